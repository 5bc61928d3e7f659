"""Ingest an ORU^R01 lab message: parse, deduplicate, match the patient, store, alert.

Everything a message produces (FHIR DiagnosticReports and Observations, the lab result row,
a provisional patient, review tasks, critical alerts, outbox deliveries and the audit record)
is written in ONE transaction, committed before the caller is answered. A message whose
patient cannot be matched with certainty is stored too, for review, never dropped.
Every surface (REST, GraphQL, MLLP) comes in through :meth:`LabIngest.ingest`, so the role
rules and the parser's tolerance are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from resolvers.audit.access import require_role_audited
from resolvers.audit.model import AuditAction
from resolvers.clock import Clock
from resolvers.fhir.writer import MirrorConfig
from resolvers.group_commit import GroupCommit
from resolvers.labs.batch_writer import IngestJob, LabBatchWriter, message_conflict
from resolvers.labs.critical_alerts import LAB_ALERTS
from resolvers.labs.oru import OruMessage
from resolvers.labs.patient_identity import IdentifierSystems, candidate_from
from resolvers.labs.ports import Hl7Parser, LabUnitOfWorkFactory
from resolvers.labs.records import ControlIdReused, DuplicateMessage, IngestResult, same_message
from resolvers.mpi.matching import PatientMatcher
from resolvers.principal import Caller, Role

__all__ = ["LAB_ALERTS", "Hl7Parser", "IngestResult", "LabIngest"]


class LabIngest:
    """Entry point of every surface (REST, GraphQL, MLLP): parse, then hand the message to the
    group commit, which stores it with whatever else is arriving at the same moment."""

    def __init__(self, uow_factory: LabUnitOfWorkFactory, clock: Clock, parser: Hl7Parser,
                 matcher: PatientMatcher, mirror: MirrorConfig, *, max_batch: int = 64,
                 max_parallel: int = 1, systems: IdentifierSystems | None = None,
                 provisional_patients: bool = True, notify_linked: bool = False) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._parser = parser
        self.systems = systems or IdentifierSystems()
        self.writer = LabBatchWriter(uow_factory, clock, matcher, mirror,
                                     provisional_patients=provisional_patients,
                                     notify_linked=notify_linked)
        self._commit: GroupCommit[IngestJob, IngestResult] = GroupCommit(
            self.writer.write, _conflict_keys,
            max_batch=max_batch, max_parallel=max_parallel)

    async def ingest(self, caller: Caller, raw: bytes | str, *,
                     encounter_id: str | None = None,
                     roles: Sequence[Role] = (Role.LAB,)) -> IngestResult:
        # The message is not parsed for a refused caller: its patient stays unknown.
        await require_role_audited(self._uow_factory, self._clock, caller, *roles,
                                   action=AuditAction.CREATE, resource_type="LabResult")
        message = self._parser.parse_oru(raw)  # raises before anything is stored
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        job = self.job(caller, message, text, encounter_id)
        try:
            return await self._commit.submit(job)
        except DuplicateMessage:
            # Another process stored a message with this control id first.
            async with self._uow_factory() as uow:
                first = await uow.labs.find_message(*job.message_key)
                if first is None:
                    raise
                if same_message(first.raw_message, text):  # answer with its result
                    return IngestResult.of(first, duplicate=True, warnings=message.warnings)
                conflict = message_conflict(job, first.id, self._clock.now())
                await uow.labs.add_conflicts([conflict])
                await uow.commit()
            raise ControlIdReused(job.facility, conflict.control_id, first.id,
                                  conflict.id) from None

    def job(self, caller: Caller, message: OruMessage, text: str,
            encounter_id: str | None) -> IngestJob:
        # The dedupe key keeps the facility as first stored (MSH-4, else MSH-3, else empty).
        facility = message.header.sending_facility or message.header.sending_application
        return IngestJob(caller=caller, message=message, text=text, facility=facility,
                         encounter_id=encounter_id,
                         candidate=candidate_from(message, self.systems))

    def reparse(self, caller: Caller, text: str, facility: str,
                encounter_id: str | None) -> IngestJob:
        """The job of a stored message (a review decision acts on what the lab sent)."""
        job = self.job(caller, self._parser.parse_oru(text), text, encounter_id)
        return IngestJob(caller=caller, message=job.message, text=text, facility=facility,
                         encounter_id=encounter_id, candidate=job.candidate)


def _conflict_keys(job: IngestJob) -> frozenset[Hashable]:
    """Jobs sharing any of these must not share (or overlap) a transaction: the same message,
    or the same result identifiers (an original and its correction arriving together).
    Two results for one unknown patient may: the batch makes one provisional patient for
    both, and across transactions the writer holds the patient's identifiers until commit."""
    return frozenset([("message", *job.message_key),
                      *(("Observation", *k) for k in job.observation_keys()),
                      *(("DiagnosticReport", *k) for k in job.report_keys())])
