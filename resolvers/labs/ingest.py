"""Ingest an ORU^R01 lab message: parse, deduplicate, match the patient, store, alert.

Everything a message produces (FHIR DiagnosticReports and Observations, the lab result row,
review tasks, critical alerts, outbox deliveries and the audit record) is written in ONE
transaction, committed before the caller is answered. A message whose patient cannot be
matched with certainty is stored too, for review, never dropped.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import date
from typing import Protocol

from resolvers.fhir.writer import MirrorConfig
from resolvers.group_commit import GroupCommit
from resolvers.labs.batch_writer import LAB_ALERTS, IngestJob, IngestResult, LabBatchWriter
from resolvers.labs.model import OruMessage
from resolvers.labs.records import DuplicateMessage
from resolvers.mpi.matching import MatchCandidate, PatientMatcher
from resolvers.mpi.model import Identifier
from resolvers.ports import Clock, UnitOfWorkFactory
from resolvers.principal import Caller, Role, require_role

__all__ = ["LAB_ALERTS", "IngestResult", "LabIngest", "candidate_from"]

GENDER = {"F": "female", "M": "male", "U": "unknown", "O": "other", "A": "other", "N": "other"}


class Hl7Parser(Protocol):
    def parse_oru(self, raw: bytes | str) -> OruMessage:
        """Raise resolvers.labs.model.UnsupportedMessage / MalformedMessage."""
        ...


def candidate_from(message: OruMessage) -> MatchCandidate:
    pid = message.patient
    birth = None
    if pid.birth_date_iso and len(pid.birth_date_iso) >= 10:
        try:
            birth = date.fromisoformat(pid.birth_date_iso[:10])
        except ValueError:
            birth = None
    identifiers = tuple(Identifier(i.system, i.value) for i in pid.identifiers if i.value)
    return MatchCandidate(
        identifiers=identifiers, family=pid.family or None, given=pid.given,
        birth_date=birth, gender=GENDER.get(pid.sex.upper()) if pid.sex else None,
        phone=pid.phones[0] if pid.phones else None,
        address=" ".join(x for x in (*pid.address_lines, pid.city, pid.district) if x) or None,
        trusted_identifier_systems=frozenset(i.system for i in identifiers))


class LabIngest:
    """Entry point of every surface (REST, GraphQL, MLLP): parse, then hand the message to the
    group commit, which stores it with whatever else is arriving at the same moment."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, parser: Hl7Parser,
                 matcher: PatientMatcher, mirror: MirrorConfig, *, max_batch: int = 64,
                 max_parallel: int = 1) -> None:
        self._uow_factory = uow_factory
        self._parser = parser
        self.writer = LabBatchWriter(uow_factory, clock, matcher, mirror)
        self._commit: GroupCommit[IngestJob, IngestResult] = GroupCommit(
            self.writer.write, _conflict_keys,
            max_batch=max_batch, max_parallel=max_parallel)

    async def ingest(self, caller: Caller, raw: bytes | str, *,
                     encounter_id: str | None = None,
                     roles: Sequence[Role] = (Role.LAB,)) -> IngestResult:
        require_role(caller, *roles)
        message = self._parser.parse_oru(raw)  # raises before anything is stored
        return await self.ingest_parsed(caller, message, raw, encounter_id=encounter_id)

    async def ingest_parsed(self, caller: Caller, message: OruMessage, raw: bytes | str, *,
                            encounter_id: str | None = None) -> IngestResult:
        """For surfaces that parsed already (MLLP needs the header for its ACK anyway)."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        header = message.header
        facility = header.sending_facility or header.sending_application
        job = IngestJob(caller=caller, message=message, text=text, facility=facility,
                        encounter_id=encounter_id, candidate=candidate_from(message))
        try:
            return await self._commit.submit(job)
        except DuplicateMessage:
            # Another process stored the same message first: answer with its result.
            async with self._uow_factory() as uow:
                first = await uow.labs.find_message(facility, header.control_id)
            if first is None:
                raise
            return IngestResult.of(first, duplicate=True)


def _conflict_keys(job: IngestJob) -> frozenset[Hashable]:
    """Jobs sharing any of these must not share (or overlap) a transaction: the same message,
    or the same result identifiers (an original and its correction arriving together)."""
    return frozenset([("message", *job.message_key),
                      *(("Observation", *k) for k in job.observation_keys()),
                      *(("DiagnosticReport", *k) for k in job.report_keys())])
