"""Lab results over GraphQL: ingestHl7, Patient.labResults (batched), alerts, review tasks."""

from datetime import datetime
from typing import Annotated, Any

import strawberry

from resolvers.errors import DomainError
from resolvers.labs.oru import MalformedMessage, UnsupportedMessage
from resolvers.labs.records import LabAlert as LabAlertRecord
from resolvers.principal import Role
from schema.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UserError,
    ValidationError,
    to_user_error,
)
from schema.graphql_context import Info
from schema.paging import page_size
from schema.permissions import has_role


@strawberry.type
class LabResult:
    """One laboratory observation of a patient."""

    id: strawberry.ID
    code: str | None
    code_system: str | None
    display: str | None
    value: str | None
    numeric_value: float | None
    unit: str | None
    interpretation: list[str]
    reference_range: str | None
    status: str
    effective: str | None
    version: int


@strawberry.type
class IngestWarning:
    """Something the sender left out or bent, and what the gateway assumed instead."""

    location: str
    message: str


@strawberry.type
class IngestResult:
    lab_result_id: strawberry.ID
    patient_matched: bool
    patient_id: strawberry.ID | None
    observations_created: int
    match_grade: str
    warnings: list[IngestWarning]


@strawberry.type
class UnsupportedMessageError(UserError):
    message_type: str


@strawberry.type
class MalformedMessageError(UserError):
    location: str | None


@strawberry.type
class AlertCandidate:
    """A patient a held result may belong to, and the review task that decides it."""

    patient_id: strawberry.ID
    review_task_id: strawberry.ID
    grade: str
    score: float


@strawberry.type
class LabAlert:
    id: strawberry.ID
    lab_result_id: strawberry.ID
    patient_id: strawberry.ID | None
    observation_id: strawberry.ID | None
    code: str
    value: str
    direction: str | None
    reason: str
    recipient: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    delivery_status: str
    escalation_level: int
    candidates: list[AlertCandidate]

    @classmethod
    def of(cls, a: LabAlertRecord) -> "LabAlert":
        return cls(id=strawberry.ID(a.id), lab_result_id=strawberry.ID(a.lab_result_id),
                   patient_id=strawberry.ID(a.patient_id) if a.patient_id else None,
                   observation_id=strawberry.ID(a.observation_id) if a.observation_id else None,
                   code=a.code, value=a.value, direction=a.direction, reason=a.reason,
                   recipient=a.recipient, created_at=a.created_at,
                   acknowledged_at=a.acknowledged_at, acknowledged_by=a.acknowledged_by,
                   delivery_status=a.delivery_status, escalation_level=a.escalation_level,
                   candidates=[_candidate(c) for c in a.candidates])


def _candidate(c: dict[str, Any]) -> AlertCandidate:
    return AlertCandidate(patient_id=strawberry.ID(str(c.get("patient_id", ""))),
                          review_task_id=strawberry.ID(str(c.get("review_task_id", ""))),
                          grade=str(c.get("grade", "")), score=float(c.get("score", 0.0)))


AcknowledgeLabAlertResult = Annotated[
    LabAlert | NotFoundError | ConflictError | ForbiddenError,
    strawberry.union("AcknowledgeLabAlertResult"),
]


IngestHl7Result = Annotated[
    IngestResult | UnsupportedMessageError | MalformedMessageError | ValidationError
    | ConflictError | ForbiddenError,
    strawberry.union("IngestHl7Result"),
]


@strawberry.type
class LabMutation:
    @strawberry.mutation(permission_classes=[has_role(Role.LAB)],
                         description="Ingest an HL7v2 ORU^R01 message (ER7 text)")
    async def ingest_hl7(self, info: Info, message: str) -> IngestHl7Result:
        ctx = info.context
        try:
            result = await ctx.services.labs.ingest(ctx.caller, message)
        except UnsupportedMessage as exc:
            # Refused before storage: kept for the console's message log.
            await ctx.services.refused_messages.hl7(
                "hl7-graphql", message, reason=str(exc), answer="UnsupportedMessageError")
            return UnsupportedMessageError(message=str(exc), code="unsupported_message",
                                           message_type=exc.message_type)
        except MalformedMessage as exc:
            await ctx.services.refused_messages.hl7(
                "hl7-graphql", message, reason=str(exc), answer="MalformedMessageError")
            return MalformedMessageError(message=str(exc), code="malformed_message",
                                         location=exc.location or None)
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return IngestResult(lab_result_id=strawberry.ID(result.lab_result_id),
                            patient_matched=result.patient_matched,
                            patient_id=strawberry.ID(result.patient_id)
                            if result.patient_id else None,
                            observations_created=result.observations_created,
                            match_grade=result.match_grade,
                            warnings=[IngestWarning(location=w.location, message=w.message)
                                      for w in result.warnings])

    @strawberry.mutation(permission_classes=[has_role(Role.CLINICIAN, Role.LAB, Role.INTEGRATOR)],
                         description="Acknowledge a critical-value alert (records who and when)")
    async def acknowledge_lab_alert(self, info: Info,
                                    id: strawberry.ID) -> AcknowledgeLabAlertResult:
        ctx = info.context
        try:
            alert = await ctx.services.lab_alerts.acknowledge(ctx.caller, str(id))
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return LabAlert.of(alert)


@strawberry.type
class LabQuery:
    @strawberry.field(permission_classes=[has_role(Role.CLINICIAN, Role.LAB, Role.INTEGRATOR)])
    async def lab_alerts(self, info: Info, patient_id: str | None = None,
                         first: int = 50, after: str | None = None) -> list[LabAlert]:
        alerts = await info.context.services.lab_queries.alerts(
            info.context.caller, patient_id, after, page_size(first))
        return [LabAlert.of(a) for a in alerts]
