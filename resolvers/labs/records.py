"""What the gateway keeps about each lab message, review task and critical alert."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from resolvers.errors import Conflict
from resolvers.labs.oru import ParseWarning


class DuplicateMessage(Exception):
    """The message (sending facility + MSH-10) is already stored."""

    def __init__(self, sending_facility: str, control_id: str) -> None:
        super().__init__(f"{sending_facility}/{control_id} is already stored")
        self.sending_facility = sending_facility
        self.control_id = control_id


class ControlIdReused(Conflict):
    """A known MSH-10 (from the same sender) arrived with different content: never silently
    dropped as a repeat. The message is kept for an operator (:class:`LabMessageConflict`)."""

    code = "control_id_reused"

    def __init__(self, sending_facility: str, control_id: str, first_result_id: str,
                 conflict_id: str) -> None:
        super().__init__(
            f"control id {control_id!r} from {sending_facility or 'this sender'} was already "
            "used for a different message; send this one with a new MSH-10",
            details={"control_id": control_id, "first_lab_result_id": first_result_id,
                     "conflict_id": conflict_id})
        self.control_id = control_id
        self.conflict_id = conflict_id


@dataclass(frozen=True)
class LabMessageConflict:
    """A message refused because its control id was taken by different content."""

    id: str
    sending_facility: str
    control_id: str
    first_result_id: str
    received_at: datetime
    received_by: str
    raw_message: str


def same_message(first: str, again: str) -> bool:
    """A resend is the same message even if the engine re-stamped MSH-7 (message time) or
    changed line endings and padding; any other difference is different content."""
    return _comparable(first) == _comparable(again)


def _comparable(text: str) -> list[str]:
    lines = [line.strip() for line in text.replace("\r\n", "\r").replace("\n", "\r").split("\r")]
    segments = [line for line in lines if line]
    if segments and segments[0].startswith("MSH") and len(segments[0]) > 3:
        fields = segments[0].split(segments[0][3])
        if len(fields) > 6:
            fields[6] = ""  # MSH-7 (the field separator is MSH-1, so MSH-7 is index 6)
        segments[0] = segments[0][3].join(fields).rstrip(segments[0][3])
    return [s.rstrip("|^~&") for s in segments]


@dataclass(frozen=True)
class LabResult:
    id: str
    sending_facility: str
    control_id: str
    received_at: datetime
    patient_id: str | None
    match_grade: str
    match_score: float
    encounter_id: str | None
    status: str  # linked | review | unmatched
    observations_created: int
    critical_count: int
    report_ids: tuple[str, ...]
    observation_ids: tuple[str, ...]
    raw_message: str
    channel: str = "hl7-http"  # how it came in: hl7-http | hl7-mllp | hl7-graphql


def hl7_channel(surface: str) -> str:
    """The message log's channel of a lab message, from the surface of the caller that sent it."""
    return {"mllp": "hl7-mllp", "graphql": "hl7-graphql"}.get(surface, "hl7-http")


@dataclass(frozen=True)
class ReviewTask:
    id: str
    lab_result_id: str
    candidate_patient_id: str
    grade: str
    score: float
    field_scores: dict[str, Any]
    status: str  # open | linked | rejected
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None


@dataclass(frozen=True)
class MpiLink:
    """A lab result attached to a patient: how (auto or by review), why (score per field),
    and whether it was undone."""

    id: str
    lab_result_id: str
    patient_id: str
    method: str  # auto | review
    grade: str
    score: float
    field_scores: dict[str, Any]
    review_task_id: str | None
    created_at: datetime
    created_by: str
    undone_at: datetime | None = None
    undone_by: str | None = None
    undo_reason: str | None = None


@dataclass(frozen=True)
class LabAlert:
    """A critical value that must reach someone. A result held for review has no patient
    yet: its alert names the candidates and their review tasks (``candidates``)."""

    id: str
    lab_result_id: str
    observation_id: str | None
    patient_id: str | None
    code: str
    value: str
    direction: str | None
    reason: str
    recipient: str
    created_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    # pending (not yet handed to a channel) | delivered | undelivered (no channel configured)
    delivery_status: str = "pending"
    escalation_level: int = 0  # times escalated while unacknowledged
    escalated_at: datetime | None = None
    candidates: tuple[dict[str, Any], ...] = ()  # {patient_id, review_task_id, grade, score}


ALERT_PENDING = "pending"
ALERT_DELIVERED = "delivered"
ALERT_UNDELIVERED = "undelivered"


@dataclass(frozen=True)
class IngestResult:
    """What every ingest surface answers (REST, GraphQL, the MLLP ACK)."""

    lab_result_id: str
    patient_matched: bool
    patient_id: str | None
    observations_created: int
    duplicate: bool
    match_grade: str
    critical_count: int
    warnings: tuple[ParseWarning, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"lab_result_id": self.lab_result_id, "patient_matched": self.patient_matched,
                "patient_id": self.patient_id, "observations_created": self.observations_created,
                "match_grade": self.match_grade,
                "warnings": [{"location": w.location, "message": w.message}
                             for w in self.warnings]}

    @classmethod
    def of(cls, result: LabResult, *, duplicate: bool,
           warnings: tuple[ParseWarning, ...] = ()) -> IngestResult:
        # A provisional patient made from this message was not *matched*: it is new.
        return cls(lab_result_id=result.id,
                   patient_matched=result.status == "linked" and result.match_grade != NEW_GRADE,
                   patient_id=result.patient_id, observations_created=result.observations_created,
                   duplicate=duplicate, match_grade=result.match_grade,
                   critical_count=result.critical_count, warnings=warnings)


NEW_GRADE = "new"  # the grade of a link to a provisional patient made from the message


@dataclass(frozen=True)
class LabResultQuery:
    patient_id: str | None = None
    status: str | None = None
    after: str | None = None
    limit: int = 50
    extra: dict[str, Any] = field(default_factory=dict)


class LabRepository(Protocol):
    async def find_message(self, sending_facility: str, control_id: str) -> LabResult | None: ...
    async def find_messages(self, keys: Sequence[tuple[str, str]],
                            ) -> dict[tuple[str, str], LabResult]: ...
    async def add_result(self, result: LabResult) -> None: ...
    async def add_results(self, results: Sequence[LabResult]) -> None: ...
    async def add_review_tasks(self, tasks: Sequence[ReviewTask]) -> None: ...
    async def add_alerts(self, alerts: Sequence[LabAlert]) -> None: ...
    async def add_links(self, links: Sequence[MpiLink]) -> None: ...
    async def add_conflicts(self, conflicts: Sequence[LabMessageConflict]) -> None: ...
    async def conflicts(self, after: str | None, limit: int) -> list[LabMessageConflict]: ...
    async def lock_result_keys(self, keys: Sequence[str]) -> None:
        """Hold these result identifiers until the transaction ends (across processes)."""
        ...
    async def get_result(self, result_id: str) -> LabResult | None: ...
    async def update_result(self, result: LabResult, *, expected_status: str) -> bool: ...
    async def get_task(self, task_id: str) -> ReviewTask | None: ...
    async def tasks_for_result(self, result_id: str) -> list[ReviewTask]: ...
    async def update_task(self, task: ReviewTask, *, expected_status: str) -> bool: ...
    async def get_link(self, link_id: str) -> MpiLink | None: ...
    async def links(self, lab_result_id: str | None, patient_id: str | None, after: str | None,
                    limit: int) -> list[MpiLink]: ...
    async def undo_link(self, link: MpiLink) -> bool: ...
    async def results(self, query: LabResultQuery) -> list[LabResult]: ...
    async def open_review_tasks(self, after: str | None, limit: int) -> list[ReviewTask]: ...
    async def alerts(self, patient_id: str | None, after: str | None, limit: int, *,
                     unacknowledged: bool = False) -> list[LabAlert]:
        """Newest first; ``unacknowledged``: only those nobody acknowledged yet."""
        ...
    async def get_alerts(self, alert_ids: Sequence[str]) -> dict[str, LabAlert]: ...
    async def alerts_for_result(self, result_id: str) -> list[LabAlert]: ...
    async def acknowledge_alert(self, alert_id: str, by: str, at: datetime) -> bool:
        """Compare-and-set: False when the alert is already acknowledged (or absent)."""
        ...
    async def set_alert_delivery(self, alert_id: str, status: str) -> None: ...
    async def attach_alert(self, alert_id: str, patient_id: str, observation_id: str) -> None:
        """A held result's alert, once a person links the result: now about a patient."""
        ...
    async def hold_alerts(self, result_id: str, candidates: tuple[dict[str, Any], ...]) -> None:
        """A result unlinked by a person: its alerts lose their patient until the next link."""
        ...
    async def due_escalations(self, before: datetime, max_level: int,
                              limit: int) -> list[LabAlert]:
        """Unacknowledged alerts last raised (created or escalated) before ``before``."""
        ...
    async def escalate_alert(self, alert: LabAlert, at: datetime) -> bool:
        """Compare-and-set on the escalation level: one process escalates each step."""
        ...
    async def count_alerts(self, delivery_status: str) -> int:
        """Unacknowledged alerts in this delivery status (for /metrics)."""
        ...
