"""Grouped patient registration: new patients that arrive together are written together.

``POST /api/patients`` and a FHIR Patient create both end here. A registration writes the
MPI row with its identifiers and match index, the FHIR Patient (document, version, search
index), its audit record and outbox rows. Alone, that is a transaction of about ten
statements, and on SQLite every one of them holds the single write lock; under load the
lock, not the work, capped registration. Through :class:`GroupCommit`, the registrations
waiting while a transaction runs share the next one: one identifier lookup, one organization
lookup and one multi-row insert per table, however many patients. Each caller is still
answered only after the commit that holds its patient.

Two registrations naming the same identifier never share a transaction or overlap (conflict
keys): the later one runs in the next round and finds the first one's patient, so duplicate
detection is what it was. A registration that is refused (a taken identifier, an unknown
organization) is answered with its own error and leaves the others in the batch untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from resolvers.audit.model import AuditRecord
from resolvers.fhir.model import StoredResource
from resolvers.fhir.writer import MirrorConfig, indexed, mirror_messages
from resolvers.group_commit import GroupCommit
from resolvers.mpi.fhir_twin import checked_draft, duplicate_identifier
from resolvers.mpi.model import Identifier, Patient
from resolvers.mpi.ports import MpiUnitOfWorkFactory
from resolvers.mpi.scoring.record import fhir_address_text
from resolvers.outbox.model import NewOutboxMessage

# What a managing organization the MPI does not know means: REST refuses the registration
# (as its own error); a FHIR Patient keeps the reference in its document, off the MPI row.
UnknownOrganization = Literal["drop"] | Callable[[], Exception]


@dataclass(frozen=True)
class NewPatient:
    patient: Patient  # version 1, id new
    resource: StoredResource  # its FHIR Patient, version 1, same id
    audit: tuple[AuditRecord, ...]
    outbox: tuple[NewOutboxMessage, ...]  # mirror deliveries and patient events
    duplicate: Callable[[Identifier, str], Exception]  # the answer to a taken identifier
    unknown_organization: UnknownOrganization


def _conflict_keys(job: NewPatient) -> frozenset[Hashable]:
    return frozenset(("identifier", i.system, i.value) for i in job.patient.identifiers)


class PatientRegistrations:
    """The MPI's registrations, grouped; also the FHIR side's :class:`PatientRegistrar`."""

    def __init__(self, uow_factory: MpiUnitOfWorkFactory, mirror: MirrorConfig, *,
                 max_batch: int = 64, max_parallel: int = 1) -> None:
        self._uow_factory = uow_factory
        self._mirror = mirror
        self._commit: GroupCommit[NewPatient, None] = GroupCommit(
            self._write, _conflict_keys, max_batch=max_batch, max_parallel=max_parallel)

    async def submit(self, job: NewPatient) -> None:
        """Returns once the patient is committed; raises the job's own refusal."""
        await self._commit.submit(job)

    async def register(self, stored: StoredResource, audit: Sequence[AuditRecord]) -> None:
        """A FHIR Patient create: the MPI row follows the document, as the twin writer
        (resolvers/mpi/fhir_twin.py) makes it; its refusals are FHIR problems."""
        draft = checked_draft(stored)  # 422 before anything is queued
        now = stored.last_updated
        patient = Patient(
            id=stored.id, identifiers=draft.identifiers, family=draft.family,
            given=draft.given, birth_date=draft.birth_date, gender=draft.gender,
            phone=draft.phone, organization_id=draft.organization_id, version=1,
            created_at=now, updated_at=now)
        await self.submit(NewPatient(
            patient=patient, resource=stored, audit=tuple(audit),
            outbox=tuple(mirror_messages(stored, self._mirror)),
            duplicate=duplicate_identifier, unknown_organization="drop"))

    async def _write(self, jobs: Sequence[NewPatient]) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = [None] * len(jobs)
        async with self._uow_factory() as uow:
            wanted = sorted({j.patient.organization_id for j in jobs
                             if j.patient.organization_id})
            known = set(await uow.organizations.get_many(wanted)) if wanted else set()
            owners = await uow.patients.owners_of(
                [i for j in jobs for i in j.patient.identifiers])
            kept: list[tuple[NewPatient, Patient]] = []
            for n, job in enumerate(jobs):
                patient = job.patient
                # The order of the single-patient path: the organization, then identifiers.
                if patient.organization_id and patient.organization_id not in known:
                    if job.unknown_organization != "drop":
                        outcomes[n] = job.unknown_organization()
                        continue
                    patient = replace(patient, organization_id=None)
                taken = next((i for i in patient.identifiers if i in owners), None)
                if taken is not None:
                    outcomes[n] = job.duplicate(taken, owners[taken])
                    continue
                kept.append((job, patient))
            if not kept:
                return outcomes
            # Patients first: their identifiers and match index rows refer to them.
            await uow.patients.add_many([(patient, fhir_address_text(job.resource.document))
                                         for job, patient in kept])
            await uow.fhir.create_many([indexed(job.resource) for job, _p in kept])
            await uow.audit.append([r for job, _p in kept for r in job.audit])
            await uow.outbox.enqueue([m for job, _p in kept for m in job.outbox])
            await uow.commit()
        return outcomes
