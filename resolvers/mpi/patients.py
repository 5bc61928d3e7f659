"""Patient use cases shared by REST and GraphQL: each read or write is audited."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.clock import Clock
from resolvers.errors import Conflict, Forbidden, InvalidInput, NotFound
from resolvers.fhir.writer import MirrorConfig, first_version, mirror_messages, write_resource
from resolvers.ids import new_id
from resolvers.mpi.fhir_mapping import merge_into_fhir
from resolvers.mpi.model import Identifier, Patient, PatientDraft, PatientQuery
from resolvers.mpi.ports import MpiUnitOfWork, MpiUnitOfWorkFactory
from resolvers.mpi.registration import NewPatient, PatientRegistrations
from resolvers.mpi.validation import validate_patient_draft
from resolvers.outbox.events import EventRouter
from resolvers.principal import Caller, Role, require_role
from resolvers.tenancy import OrganizationScoping

READ_ROLES = (Role.CLINICIAN, Role.LAB, Role.INTEGRATOR, Role.PUBLIC_HEALTH, Role.BILLING)
WRITE_ROLES = (Role.CLINICIAN, Role.INTEGRATOR)
MAX_PAGE = 200
RESOURCE = "Patient"


def patient_event_data(patient: Patient) -> dict[str, Any]:
    data = asdict(patient)
    data["birth_date"] = patient.birth_date.isoformat() if patient.birth_date else None
    data["created_at"] = patient.created_at.isoformat()
    data["updated_at"] = patient.updated_at.isoformat()
    return data


class PatientUseCases:
    def __init__(
        self,
        uow_factory: MpiUnitOfWorkFactory,
        clock: Clock,
        audit: AuditTrail,
        events: EventRouter,
        mirror: MirrorConfig | None = None,
        scoping: OrganizationScoping | None = None,
        reads: MpiUnitOfWorkFactory | None = None,
        max_parallel: int = 1,  # registration transactions at once: 1 on SQLite
    ) -> None:
        self._uow_factory = uow_factory
        # Reads write nothing in their unit of work (their audit rows go through the
        # trail's shared commits), so they may run on read-only connections.
        self._reads = reads or uow_factory
        self._clock = clock
        self._audit = audit
        self._events = events
        self._mirror = mirror or MirrorConfig()
        self._scoping = scoping or OrganizationScoping()
        # Shared with the FHIR Patient create (the composition root hands it over).
        self.registrations = PatientRegistrations(uow_factory, self._mirror,
                                                  max_parallel=max_parallel)

    async def _authorize(self, caller: Caller, roles: Sequence[Role], action: AuditAction,
                         patient_ids: Sequence[str | None]) -> None:
        try:
            require_role(caller, *roles)
        except Forbidden:
            await self._audit.record(audit_records(
                caller, action=action, resource_type=RESOURCE,
                targets=[(pid, pid) for pid in patient_ids] or [(None, None)],
                outcome=AuditOutcome.DENIED, at=self._clock.now(),
            ))
            raise

    async def get_many(self, caller: Caller, ids: Sequence[str]) -> dict[str, Patient]:
        """Batch read (DataLoaders call this); one audit record per patient asked for."""
        found, _ = await self._read_many(caller, ids, organizations=False)
        return found

    async def get_many_with_organizations(
            self, caller: Caller, ids: Sequence[str]) -> tuple[dict[str, Patient],
                                                              Mapping[str, object]]:
        """:meth:`get_many`, and the managing organizations of the patients answered, read
        in the same unit of work (GraphQL asks for both in one query; a second round of
        loading cost as much CPU as the patient read). Organizations are not patient data
        and every role may read them, so they need no check or audit of their own."""
        return await self._read_many(caller, ids, organizations=True)

    async def _read_many(self, caller: Caller, ids: Sequence[str], *, organizations: bool
                         ) -> tuple[dict[str, Patient], Mapping[str, object]]:
        await self._authorize(caller, READ_ROLES, AuditAction.READ, ids)
        unique = list(dict.fromkeys(ids))
        orgs: Mapping[str, object] = {}
        async with self._reads() as uow:
            if organizations:  # in the patients' statement
                found, orgs = await uow.patients.get_many_with_organizations(unique)
            else:
                found = await uow.patients.get_many(unique)
            scope = await self._scoping.scope(uow, caller)
        # Outside the caller's organizations: answered as absent, recorded as denied.
        hidden = [pid for pid, p in found.items() if not scope.allows(p.organization_id)]
        for pid in hidden:
            del found[pid]
        if organizations:  # those of the patients answered, no others
            orgs = {p.organization_id: orgs[p.organization_id] for p in found.values()
                    if p.organization_id is not None and p.organization_id in orgs}
        now = self._clock.now()
        # Committed before the answer leaves (in a commit shared with other readers).
        await self._audit.record(
            audit_records(caller, action=AuditAction.READ, resource_type=RESOURCE,
                          targets=[(pid, pid) for pid in unique if pid in found],
                          outcome=AuditOutcome.SUCCESS, at=now)
            + audit_records(caller, action=AuditAction.READ, resource_type=RESOURCE,
                            targets=[(pid, pid) for pid in hidden],
                            outcome=AuditOutcome.DENIED, at=now)
            + audit_records(caller, action=AuditAction.READ, resource_type=RESOURCE,
                            targets=[(pid, None) for pid in unique
                                     if pid not in found and pid not in hidden],
                            outcome=AuditOutcome.NOT_FOUND, at=now)
        )
        return found, orgs

    async def get(self, caller: Caller, patient_id: str) -> Patient:
        found = await self.get_many(caller, [patient_id])
        if patient_id not in found:
            raise NotFound(f"no patient with id {patient_id!r}")
        return found[patient_id]

    async def search(self, caller: Caller, query: PatientQuery) -> list[Patient]:
        await self._authorize(caller, READ_ROLES, AuditAction.READ, [])
        query = replace(query, limit=max(1, min(query.limit, MAX_PAGE)))
        async with self._reads() as uow:
            scope = await self._scoping.scope(uow, caller)
            if not scope.unrestricted:
                query = replace(query, organization_ids=scope.organizations)
            patients = await uow.patients.search(query)
        await self._audit.record(audit_records(
            caller, action=AuditAction.READ, resource_type=RESOURCE,
            targets=[(p.id, p.id) for p in patients] or [(None, None)],
            outcome=AuditOutcome.SUCCESS, at=self._clock.now(),
        ))
        return patients

    async def create(self, caller: Caller, draft: PatientDraft) -> Patient:
        await self._authorize(caller, WRITE_ROLES, AuditAction.CREATE, [])
        now = self._clock.now()
        clean = validate_patient_draft(draft, today=now.date())
        if self._scoping.confines(caller) and clean.organization_id is None:
            # A confined caller registers patients for its own organization.
            clean = replace(clean, organization_id=caller.principal.organization)
        patient = Patient(
            id=new_id(), identifiers=clean.identifiers, family=clean.family, given=clean.given,
            birth_date=clean.birth_date, gender=clean.gender, phone=clean.phone,
            organization_id=clean.organization_id, version=1, created_at=now, updated_at=now,
        )
        if not self._scoping.confines(caller):
            # Every organization is in scope: no per-caller read, so the registration can
            # share a transaction with the others arriving now.
            await self.registrations.submit(self._new_patient(caller, patient, clean))
            return patient
        async with self._uow_factory() as uow:
            await self._check_scope(uow, caller, clean.organization_id)
            await self._check_references(uow, clean)
            for ident in clean.identifiers:
                existing = await uow.patients.find_by_identifier(ident)
                if existing is not None:
                    raise _identifier_taken(ident, existing.id)
            await uow.patients.add(patient)
            # The same patient as a FHIR Patient resource (same id), mirrored like any other.
            await write_resource(uow, merge_into_fhir(None, patient.id, clean),
                                 resource_id=patient.id, expected_version=None, now=now,
                                 mirror=self._mirror)
            await uow.audit.append(audit_records(
                caller, action=AuditAction.CREATE, resource_type=RESOURCE,
                targets=[(patient.id, patient.id)], outcome=AuditOutcome.SUCCESS, at=now,
            ))
            await uow.outbox.enqueue(self._events.messages_for(
                "patient.created", patient.id, patient.version, patient_event_data(patient), now))
            await uow.commit()
        return patient

    def _new_patient(self, caller: Caller, patient: Patient, clean: PatientDraft) -> NewPatient:
        """The same rows as the single-transaction path below, for the grouped writer."""
        resource = first_version(merge_into_fhir(None, patient.id, clean), patient.id,
                                 patient.created_at)
        return NewPatient(
            patient=patient, resource=resource,
            audit=tuple(audit_records(
                caller, action=AuditAction.CREATE, resource_type=RESOURCE,
                targets=[(patient.id, patient.id)], outcome=AuditOutcome.SUCCESS,
                at=patient.created_at)),
            outbox=(*mirror_messages(resource, self._mirror), *self._events.messages_for(
                "patient.created", patient.id, patient.version, patient_event_data(patient),
                patient.created_at)),
            duplicate=_identifier_taken, unknown_organization=_unknown_organization)

    async def update(
        self, caller: Caller, patient_id: str, draft: PatientDraft, *, expected_version: int | None
    ) -> Patient:
        await self._authorize(caller, WRITE_ROLES, AuditAction.UPDATE, [patient_id])
        now = self._clock.now()
        clean = validate_patient_draft(draft, today=now.date())
        async with self._uow_factory() as uow:
            current = (await uow.patients.get_many([patient_id])).get(patient_id)
            scope = await self._scoping.scope(uow, caller)
            if current is None or not scope.allows(current.organization_id):
                raise NotFound(f"no patient with id {patient_id!r}")
            await self._check_scope(uow, caller, clean.organization_id)
            if expected_version is not None and expected_version != current.version:
                raise Conflict(
                    f"version conflict: the patient is at version {current.version}",
                    details={"current_version": current.version},
                )
            await self._check_references(uow, clean)
            for ident in clean.identifiers:
                other = await uow.patients.find_by_identifier(ident)
                if other is not None and other.id != patient_id:
                    raise Conflict("another patient has this identifier",
                                   details={"system": ident.system, "patient_id": other.id})
            updated = replace(
                current, identifiers=clean.identifiers, family=clean.family, given=clean.given,
                birth_date=clean.birth_date, gender=clean.gender, phone=clean.phone,
                organization_id=clean.organization_id, version=current.version + 1, updated_at=now,
            )
            if not await uow.patients.update(updated, expected_version=current.version):
                raise Conflict("the patient was changed concurrently; read it again and retry")
            document = (await uow.fhir.get_many("Patient", [patient_id])).get(patient_id)
            await write_resource(
                uow, merge_into_fhir(document.document if document else None, patient_id, clean),
                resource_id=patient_id, expected_version=document.version if document else None,
                now=now, mirror=self._mirror)
            await uow.audit.append(audit_records(
                caller, action=AuditAction.UPDATE, resource_type=RESOURCE,
                targets=[(patient_id, patient_id)], outcome=AuditOutcome.SUCCESS, at=now,
            ))
            await uow.outbox.enqueue(self._events.messages_for(
                "patient.updated", updated.id, updated.version, patient_event_data(updated), now))
            await uow.commit()
        return updated

    async def _check_scope(self, uow: MpiUnitOfWork, caller: Caller,
                           organization_id: str | None) -> None:
        scope = await self._scoping.scope(uow, caller)
        if not scope.allows(organization_id):
            raise Forbidden("the patient's managing organization is outside your organization")

    @staticmethod
    async def _check_references(uow: MpiUnitOfWork, draft: PatientDraft) -> None:
        if draft.organization_id is not None:
            orgs = await uow.organizations.get_many([draft.organization_id])
            if draft.organization_id not in orgs:
                raise _unknown_organization()


def _identifier_taken(ident: Identifier, patient_id: str) -> Conflict:
    return Conflict("a patient with this identifier already exists",
                    details={"system": ident.system, "patient_id": patient_id})


def _unknown_organization() -> InvalidInput:
    return InvalidInput("the managing organization does not exist", details=[
        {"field": "organization_id", "message": "unknown organization"}])
