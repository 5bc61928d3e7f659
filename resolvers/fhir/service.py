"""FHIR use cases: create, read, vread, update, delete, history, search, $validate.

Shared by the FHIR REST routes and GraphQL. Every access is audited; every write is
validated first (structure and documented rules) and mirrored through the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome, AuditRecord
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.clock import Clock
from resolvers.errors import Forbidden
from resolvers.fhir.creations import conditional_match
from resolvers.fhir.errors import FhirProblem, invalid_resource, problem
from resolvers.fhir.issues import SUPPORTED_TYPES, VALIDATE_ONLY_TYPES, Issue, is_error
from resolvers.fhir.model import SearchPage, SearchRequest, StoredResource
from resolvers.fhir.ports import (
    FhirUnitOfWorkFactory,
    FhirWriteUnitOfWork,
    PatientRegistrar,
    ResourceValidator,
    TwinWriter,
    TwinWriters,
)
from resolvers.fhir.scoping import FhirScoping
from resolvers.fhir.search_audit import patients_of_page, patients_searched
from resolvers.fhir.search_params import patient_of
from resolvers.fhir.smart_scopes import SmartScopes
from resolvers.fhir.writer import (
    TWINNED,
    MirrorConfig,
    delete_resource,
    first_version,
    write_resource,
)
from resolvers.ids import new_id
from resolvers.principal import Caller, Role, require_role
from resolvers.tenancy import OrganizationScoping

ROLES = (Role.CLINICIAN, Role.INTEGRATOR)


@dataclass(frozen=True)
class WriteResult:
    status: int  # 200 or 201
    resource: StoredResource


def check_type(resource_type: str, supported: Sequence[str] = SUPPORTED_TYPES) -> None:
    if resource_type not in supported:
        raise problem(404, "not-supported", f"resource type {resource_type!r} is not supported "
                      f"here; supported: {', '.join(supported)}")


class NoTwins:
    """No twins: every resource type is stored on its own (tests of the FHIR store alone)."""

    def bound(self, resource_type: str, uow: FhirWriteUnitOfWork) -> TwinWriter | None:
        return None


class FhirUseCases:
    def __init__(self, uow_factory: FhirUnitOfWorkFactory, clock: Clock, audit: AuditTrail,
                 validator: ResourceValidator, mirror: MirrorConfig,
                 scoping: OrganizationScoping | None = None,
                 twins: TwinWriters | None = None,
                 reads: FhirUnitOfWorkFactory | None = None,
                 registrar: PatientRegistrar | None = None,
                 creations: PatientRegistrar | None = None) -> None:
        self._uow_factory = uow_factory
        # New Patients go through the MPI's grouped registration when one is given, other
        # new resources through grouped creates (resolvers/fhir/creations.py).
        self.registrar, self.creations = registrar, creations
        # Reads write nothing in their unit of work: their audit rows go through the trail's
        # shared commits, so they may run on read-only connections.
        self._reads = reads or uow_factory
        self._clock = clock
        self._audit = audit
        self.validator = validator
        self.mirror = mirror
        self.scoping = scoping or OrganizationScoping()
        self.twins = twins or NoTwins()
        self._scope = FhirScoping(self.scoping, clock, audit)
        self.smart = SmartScopes(clock, audit, self._reads)  # SMART apps' tokens only

    # -- helpers shared with bundles ------------------------------------------------

    async def authorize(self, caller: Caller, action: AuditAction, resource_type: str,
                        resource_id: str | None = None,
                        patient_ids: Sequence[str] = ()) -> None:
        """The role check; a denial names the patient the request concerns when it can be
        known: the one the stored resource is about, else those the search names."""
        try:
            require_role(caller, *ROLES)
        except Forbidden:
            concerned: list[str | None] = list(patient_ids)
            if resource_id is not None:
                async with self._reads() as uow:
                    # Read for the record only: the caller gets nothing of the resource.
                    stored = (await uow.fhir.get_many(resource_type, [resource_id])
                              ).get(resource_id)
                concerned = [patient_of(stored.document)] if stored else []
            await self._audit.record(audit_records(
                caller, action=action, resource_type=resource_type,
                targets=[(resource_id, p) for p in concerned if p] or [(resource_id, None)],
                outcome=AuditOutcome.DENIED, at=self._clock.now()))
            raise

    def check_body(self, resource_type: str, body: Any, *, resource_id: str | None = None,
                   path: str | None = None) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("resourceType") != resource_type:
            found = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
            raise problem(400, "structure", f"expected a {resource_type} resource, got {found!r}",
                          path or resource_type)
        if resource_id is not None and body.get("id") not in (None, resource_id):
            raise problem(400, "invalid", f"the body id {body.get('id')!r} differs from the "
                          f"id in the URL {resource_id!r}", f"{resource_type}.id")
        issues = self.validator.validate(body, path=path)
        if any(is_error(i) for i in issues):
            raise invalid_resource(issues)
        return body

    @staticmethod
    def audit_write(caller: Caller, stored: StoredResource, action: AuditAction,
                    at: Any) -> list[Any]:
        return audit_records(caller, action=action, resource_type=stored.resource_type,
                             targets=[(stored.id, patient_of(stored.document) if stored.document
                                       else None)],
                             outcome=AuditOutcome.SUCCESS, at=at)

    def _reads_of(self, caller: Caller, resource_type: str, found: Sequence[StoredResource],
                  asked_about: Sequence[str] = ()) -> list[AuditRecord]:
        # An empty answer is still a look at the patients the search named.
        return audit_records(
            caller, action=AuditAction.READ, resource_type=resource_type,
            targets=[(r.id, patient_of(r.document)) for r in found]
            or [(None, p) for p in asked_about] or [(None, None)],
            outcome=AuditOutcome.SUCCESS, at=self._clock.now())

    def _not_found(self, caller: Caller, resource_type: str,
                   resource_id: str) -> list[AuditRecord]:
        return audit_records(
            caller, action=AuditAction.READ, resource_type=resource_type,
            targets=[(resource_id, None)], outcome=AuditOutcome.NOT_FOUND,
            at=self._clock.now())

    # -- interactions ---------------------------------------------------------------

    def validate(self, resource_type: str | None, body: Any) -> list[Issue]:
        """$validate: the verdict is in the issues, whatever they say."""
        if resource_type is not None:
            # Bundle, OperationOutcome and AuditEvent are never stored, but clients validate
            # them at the type level (POST Bundle/$validate) like any other resource.
            check_type(resource_type, SUPPORTED_TYPES + VALIDATE_ONLY_TYPES)
            if isinstance(body, dict) and body.get("resourceType") not in (None, resource_type):
                return [Issue("error", "invalid", f"expected a {resource_type} resource, got "
                              f"{body.get('resourceType')!r}", "resourceType")]
        return self.validator.validate(body)

    async def create(self, caller: Caller, resource_type: str, body: Any, *,
                     if_none_exist: str | None = None) -> WriteResult:
        check_type(resource_type)
        await self.authorize(caller, AuditAction.CREATE, resource_type)
        await self.smart.check(caller, AuditAction.CREATE, "c", resource_type)
        doc = self.check_body(resource_type, body)
        await self.smart.check(caller, AuditAction.CREATE, "c", resource_type, None, [doc])
        doc = {k: v for k, v in doc.items() if k != "id"}  # the server assigns the id
        now = self._clock.now()
        grouped = self.registrar if resource_type == "Patient" else \
            self.creations if resource_type not in TWINNED else None
        if grouped is not None and not if_none_exist and not self.scoping.confines(caller):
            # Nothing to read first (no scope, no condition): the create shares a transaction
            # with the others arriving now (resolvers/mpi/registration.py, fhir/creations.py).
            stored = first_version(doc, new_id(), now)
            await grouped.register(stored,
                                   self.audit_write(caller, stored, AuditAction.CREATE, now))
            return WriteResult(201, stored)
        async with self._uow_factory() as uow:
            outside = await self._scope.outside(uow, caller, [doc])
            if outside:
                await self._scope.deny(uow, caller, AuditAction.CREATE, resource_type, None,
                                         outside)
                raise problem(403, "forbidden", "the patient is outside your organization")
            if if_none_exist:
                existing = await conditional_match(uow, resource_type, if_none_exist)
                if existing is not None:
                    await uow.audit.append(self._reads_of(caller, resource_type, [existing]))
                    await uow.commit()
                    return WriteResult(200, existing)
            stored = await write_resource(uow, doc, resource_id=None, expected_version=None,
                                          now=now, mirror=self.mirror,
                                          twin=self.twins.bound(resource_type, uow))
            await uow.audit.append(self.audit_write(caller, stored, AuditAction.CREATE, now))
            await uow.commit()
        return WriteResult(201, stored)

    async def read(self, caller: Caller, resource_type: str, resource_id: str) -> StoredResource:
        check_type(resource_type)
        await self.authorize(caller, AuditAction.READ, resource_type, resource_id)
        await self.smart.check(caller, AuditAction.READ, "r", resource_type, resource_id)
        async with self._reads() as uow:
            found = (await uow.fhir.get_many(resource_type, [resource_id])).get(resource_id)
            outside = await self._scope.outside(uow, caller, [found.document]) if found and \
                found.document else []
        if outside:
            raise await self._scope.deny_read(caller, resource_type, resource_id, outside)
        if found is not None and not found.deleted:
            await self.smart.check(caller, AuditAction.READ, "r", resource_type, resource_id,
                                   [found.document])
        outcome = (AuditOutcome.SUCCESS if found and not found.deleted
                   else AuditOutcome.NOT_FOUND)
        await self._audit.record(audit_records(  # committed before the answer leaves
            caller, action=AuditAction.READ, resource_type=resource_type,
            targets=[(resource_id, patient_of(found.document) if found else None)],
            outcome=outcome, at=self._clock.now()))
        if found is None:
            raise problem(404, "not-found", f"{resource_type}/{resource_id} is not known")
        if found.deleted:
            raise problem(410, "deleted", f"{resource_type}/{resource_id} was deleted")
        return found

    async def read_many(self, caller: Caller, resource_type: str,
                        ids: Sequence[str]) -> dict[str, StoredResource]:
        """Batch read for DataLoaders; deleted resources are left out. One audit insert for
        the batch: a record per resource found, and a not-found record per id that is not."""
        await self.authorize(caller, AuditAction.READ, resource_type,
                             patient_ids=ids if resource_type == "Patient" else ())
        await self.smart.check(caller, AuditAction.READ, "r", resource_type)
        if not ids:
            return {}
        async with self._reads() as uow:
            found = {k: v for k, v in (await uow.fhir.get_many(resource_type, ids)).items()
                     if not v.deleted}
            if self.scoping.confines(caller):  # outside the organization: as if absent
                found = {k: v for k, v in found.items()
                         if not await self._scope.outside(uow, caller, [v.document])}
        if self.smart.applies(caller):  # what the token's scopes do not allow: as if absent
            found = {k: v for k, v in found.items()
                     if self.smart.refused(caller, "r", resource_type, [v.document]) is None}
        now = self._clock.now()
        await self._audit.record(
            audit_records(caller, action=AuditAction.READ, resource_type=resource_type,
                          targets=[(r.id, patient_of(r.document)) for r in found.values()],
                          outcome=AuditOutcome.SUCCESS, at=now)
            + audit_records(caller, action=AuditAction.READ, resource_type=resource_type,
                            targets=[(i, None) for i in dict.fromkeys(ids) if i not in found],
                            outcome=AuditOutcome.NOT_FOUND, at=now))
        return found

    async def record_not_found(self, caller: Caller, resource_type: str,
                               resource_id: str) -> None:
        """In its own commit, for callers whose transaction is about to roll back."""
        await self._audit.record(self._not_found(caller, resource_type, resource_id))

    async def record_empty_search(self, caller: Caller, resource_type: str) -> None:
        """A search that found nobody (e.g. $match) was still a look into the register."""
        await self._audit.record(self._reads_of(caller, resource_type, []))

    async def vread(self, caller: Caller, resource_type: str, resource_id: str,
                    version: int) -> StoredResource:
        check_type(resource_type)
        await self.authorize(caller, AuditAction.READ, resource_type, resource_id)
        await self.smart.check(caller, AuditAction.READ, "r", resource_type, resource_id)
        async with self._reads() as uow:
            found = await uow.fhir.get_version(resource_type, resource_id, version)
            current = (await uow.fhir.get_many(resource_type, [resource_id])).get(resource_id) \
                if self.scoping.confines(caller) else None
            outside = await self._scope.outside(uow, caller, [
                d.document for d in (found, current) if d is not None and d.document])
        if outside:
            raise await self._scope.deny_read(caller, resource_type, resource_id, outside)
        if found is not None:
            await self.smart.check(caller, AuditAction.READ, "r", resource_type, resource_id,
                                   [found.document])
        await self._audit.record(
            self._reads_of(caller, resource_type, [found]) if found is not None
            else self._not_found(caller, resource_type, resource_id))
        if found is None:
            raise problem(404, "not-found",
                          f"{resource_type}/{resource_id} has no version {version}")
        if found.deleted:
            raise problem(410, "deleted", f"version {version} is the deletion")
        return found

    async def update(self, caller: Caller, resource_type: str, resource_id: str, body: Any, *,
                     if_match: int | None = None) -> WriteResult:
        check_type(resource_type)
        await self.authorize(caller, AuditAction.UPDATE, resource_type, resource_id)
        await self.smart.check(caller, AuditAction.UPDATE, "u", resource_type, resource_id)
        doc = self.check_body(resource_type, body, resource_id=resource_id)
        now = self._clock.now()
        await self.smart.check_stored(caller, AuditAction.UPDATE, "u", resource_type,
                                      resource_id, doc)
        async with self._uow_factory() as uow:
            current = (await uow.fhir.get_many(resource_type, [resource_id])).get(resource_id)
            outside = await self._scope.outside(uow, caller, [
                d for d in (doc, current.document if current else None) if d])
            if outside:
                raise await self._scope.deny(uow, caller, AuditAction.UPDATE, resource_type,
                                               resource_id, outside)
            if if_match is not None and (current is None or current.version != if_match):
                raise problem(412, "conflict", f"If-Match W/\"{if_match}\" does not match the "
                              f"current version {current.version if current else 'none'}")
            stored = await write_resource(
                uow, doc, resource_id=resource_id,
                expected_version=current.version if current else None, now=now,
                mirror=self.mirror, twin=self.twins.bound(resource_type, uow))
            created = current is None or current.deleted
            await uow.audit.append(self.audit_write(
                caller, stored, AuditAction.CREATE if created else AuditAction.UPDATE, now))
            await uow.commit()
        return WriteResult(201 if created else 200, stored)

    async def delete(self, caller: Caller, resource_type: str, resource_id: str) -> None:
        check_type(resource_type)
        await self.authorize(caller, AuditAction.DELETE, resource_type, resource_id)
        await self.smart.check_stored(caller, AuditAction.DELETE, "d", resource_type,
                                      resource_id)
        now = self._clock.now()
        async with self._uow_factory() as uow:
            current = (await uow.fhir.get_many(resource_type, [resource_id])).get(resource_id)
            if current is None or current.deleted:
                return  # deleting nothing is a success (idempotent)
            outside = await self._scope.outside(uow, caller, [current.document])
            if outside:
                raise await self._scope.deny(uow, caller, AuditAction.DELETE, resource_type,
                                               resource_id, outside)
            await delete_resource(uow, current, now, mirror=self.mirror)
            await uow.audit.append(audit_records(
                caller, action=AuditAction.DELETE, resource_type=resource_type,
                targets=[(resource_id, patient_of(current.document))],
                outcome=AuditOutcome.SUCCESS, at=now))
            await uow.commit()

    async def history(self, caller: Caller, resource_type: str,
                      resource_id: str) -> list[StoredResource]:
        check_type(resource_type)
        await self.authorize(caller, AuditAction.READ, resource_type, resource_id)
        await self.smart.check(caller, AuditAction.READ, "r", resource_type, resource_id)
        async with self._reads() as uow:
            versions = await uow.fhir.history(resource_type, resource_id)
            outside = await self._scope.outside(uow, caller, [v.document for v in versions
                                                        if v.document][:1])
        if outside:
            raise await self._scope.deny_read(caller, resource_type, resource_id, outside)
        await self.smart.check(caller, AuditAction.READ, "r", resource_type, resource_id,
                               [v.document for v in versions])
        if versions:
            # The newest version may be a tombstone ({}): name the patient of the newest
            # version that has a document.
            named = [v for v in versions if v.document][:1] or versions[:1]
            await self._audit.record(self._reads_of(caller, resource_type, named))
        else:
            await self._audit.record(self._not_found(caller, resource_type, resource_id))
        if not versions:
            raise problem(404, "not-found", f"{resource_type}/{resource_id} is not known")
        return versions

    async def search(self, caller: Caller, request: SearchRequest) -> SearchPage:
        check_type(request.resource_type)
        named = patients_searched(request)
        await self.authorize(caller, AuditAction.READ, request.resource_type, patient_ids=named)
        request = await self.smart.confine_search(caller, request)
        async with self._reads() as uow:
            if self.scoping.confines(caller):
                request = await self._scope.confine_search(uow, caller, request, named)
            page = await uow.fhir.search(request)
        page = self.smart.filter_page(caller, request.resource_type, page)
        await self._audit.record(self._searched(caller, request.resource_type, page, named))
        return page

    def _searched(self, caller: Caller, resource_type: str, page: SearchPage,
                  asked_about: Sequence[str]) -> list[AuditRecord]:
        """A search is one read per patient whose data it answered (IHE BALP's query
        pattern), not one per resource: a patient's thirty results are one row, naming the
        resource where the answer held only one of that patient's."""
        by_patient: dict[str | None, list[str]] = {}
        for rid, patient in patients_of_page(page):
            by_patient.setdefault(patient, []).append(rid)
        return audit_records(
            caller, action=AuditAction.READ, resource_type=resource_type,
            targets=[(ids[0] if len(ids) == 1 else None, patient)
                     for patient, ids in by_patient.items()]
            or [(None, p) for p in asked_about] or [(None, None)],
            outcome=AuditOutcome.SUCCESS, at=self._clock.now())


__all__ = ["FhirProblem", "FhirUseCases", "WriteResult"]
