"""Lab routes: HL7v2 ORU^R01 ingest, lab results, MPI review, critical values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from resolvers.errors import DomainError, Forbidden, InvalidInput, NotFound
from resolvers.fhir.errors import FhirProblem
from resolvers.labs.oru import MalformedMessage, UnsupportedMessage
from resolvers.labs.panic_values import PanicQuestion
from resolvers.labs.queries import LabResultFilter
from resolvers.labs.records import LabAlert
from resolvers.principal import Role
from rest_compat.body import read_body
from rest_compat.envelope import ok
from rest_compat.request_context import (
    BadRequest,
    UnsupportedMediaType,
    caller,
    parse_body,
    query_int,
    services,
)
from rest_compat.spec import Operation, QueryParam, api_route

MAX_HL7_BYTES = 5 * 1_048_576
HL7_TYPES = ("text/plain", "application/hl7-v2", "x-application/hl7-v2+er7",
             "application/edi-hl7")


class UnsupportedHl7(DomainError):
    code = "unsupported_message"


class IngestWarningItem(BaseModel):
    location: str = Field(description="Where, as an ERR-2 position such as OBX^1^11")
    message: str = Field(description="What was missing or bent, and what was assumed")


class IngestData(BaseModel):
    lab_result_id: str
    patient_matched: bool
    patient_id: str | None
    observations_created: int
    match_grade: str = Field(description="certain, new (a provisional patient was created), "
                             "probable or possible (held for review), certainly-not")
    warnings: list[IngestWarningItem] = Field(
        description="What the gateway assumed for fields the sender left out or bent")


class PanicObservation(BaseModel):
    code: str = Field(min_length=1, max_length=64, description="LOINC code")
    # Strict: "7.1" as a string is refused, not read as a number (what was sent is wrong).
    value: float | None = Field(default=None, strict=True)
    unit: str = Field(default="", max_length=32)
    flags: list[str] = Field(default_factory=list, max_length=10,
                             description="OBX-8 abnormal flags, e.g. HH")


class PanicCheckBody(BaseModel):
    observations: list[PanicObservation] = Field(min_length=1, max_length=500)


class PanicFinding(BaseModel):
    code: str
    critical: bool
    direction: str | None
    reason: str
    source: str | None


class PanicCheckResult(BaseModel):
    results: list[PanicFinding]
    critical_count: int


async def _hl7_body(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in HL7_TYPES:
        raise UnsupportedMediaType("send the HL7v2 message as text/plain (ER7 encoding)")
    raw = await read_body(request, MAX_HL7_BYTES)
    if not raw.strip():
        raise BadRequest("the body is empty: send an ORU^R01 message")
    return raw


async def _ingest(request: Request, roles: tuple[Role, ...], encounter_id: str | None) -> Response:
    who = caller(request)
    raw = await _hl7_body(request)
    found = services(request)
    try:
        result = await found.labs.ingest(who, raw, encounter_id=encounter_id, roles=roles)
    except UnsupportedMessage as exc:
        # Refused before storage: kept for the console's message log, then answered.
        await found.refused_messages.hl7("hl7-http", raw, reason=str(exc), answer="HTTP 422")
        raise UnsupportedHl7(str(exc), details={"message_type": exc.message_type}) from None
    except MalformedMessage as exc:
        await found.refused_messages.hl7("hl7-http", raw, reason=str(exc), answer="HTTP 400")
        raise BadRequest(str(exc), details={"location": exc.location or None,
                                            "hl7_error_code": exc.hl7_error_code}) from None
    # 200 for a new message and for a repeat alike: a repeat answers the first result.
    return ok(IngestData(**result.to_json()))


async def lab_ingest(request: Request) -> Response:
    return await _ingest(request, (Role.LAB,), None)


async def clinical_ingest(request: Request) -> Response:
    encounter_id = request.query_params.get("encounter_id") or None
    return await _ingest(request, (Role.CLINICIAN,), encounter_id)


async def panic_check(request: Request) -> Response:
    who = caller(request)
    body = await parse_body(request, PanicCheckBody)
    answer = await services(request).panic_values.check(who, [
        PanicQuestion(o.code, o.value, o.unit, tuple(o.flags)) for o in body.observations])
    return ok(PanicCheckResult(results=[PanicFinding(**f.__dict__) for f in answer.findings],
                               critical_count=answer.critical_count))


class LabResultItem(BaseModel):
    id: str
    patient_id: str | None
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


class LabResultPage(BaseModel):
    items: list[LabResultItem]
    total: int
    next_offset: int | None


class ReviewTaskItem(BaseModel):
    id: str
    lab_result_id: str
    candidate_patient_id: str
    grade: str
    score: float
    field_scores: dict[str, Any]
    status: str
    created_at: datetime


class ReviewPage(BaseModel):
    items: list[ReviewTaskItem]
    next_cursor: str | None


class AlertCandidateItem(BaseModel):
    patient_id: str
    review_task_id: str
    grade: str
    score: float


class AlertItem(BaseModel):
    id: str
    lab_result_id: str
    observation_id: str | None
    patient_id: str | None = Field(description="None while the result is held for review")
    code: str
    value: str
    direction: str | None
    reason: str
    recipient: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    delivery_status: str = Field(description="pending, delivered, or undelivered (no channel)")
    escalation_level: int
    candidates: list[AlertCandidateItem] = Field(
        description="A held result's candidate patients and their review tasks")

    @classmethod
    def of(cls, a: LabAlert) -> AlertItem:
        return cls(**{**a.__dict__, "candidates": [AlertCandidateItem(**c)
                                                   for c in a.candidates]})


class AlertPage(BaseModel):
    items: list[AlertItem]
    next_cursor: str | None


async def patient_lab_results(request: Request) -> Response:
    who = caller(request)
    patient_id = request.path_params["patient_id"]
    count = query_int(request, "limit", 50)
    offset = query_int(request, "offset", 0, minimum=0, maximum=1_000_000)
    p = request.query_params
    flt = LabResultFilter(code=p.get("code") or None, date_from=p.get("date_from") or None,
                          date_to=p.get("date_to") or None, status=p.get("status") or None)
    try:
        grouped, total = await services(request).lab_queries.results_for_patients(
            who, [patient_id], flt, count=count, offset=offset)
    except FhirProblem as exc:  # a bad date or code filter, or a patient out of scope
        if exc.status == 404:
            raise NotFound(exc.message) from None
        if exc.status == 403:
            raise Forbidden(exc.message) from None
        raise InvalidInput(exc.message, details=[
            {"field": "query", "message": i.diagnostics} for i in exc.issues]) from None
    # The views as they are, not LabResultItem models: their fields are LabResultItem's, in
    # its order, and of JSON types (validating them again cost more than the lookup).
    more = offset + count < total
    return ok({"items": grouped[patient_id], "total": total,
               "next_offset": offset + count if more else None}, json_types_only=True)


async def review_queue(request: Request) -> Response:
    who = caller(request)
    limit = query_int(request, "limit", 50)
    tasks = await services(request).lab_queries.review_tasks(
        who, request.query_params.get("cursor") or None, limit)
    return ok(ReviewPage(items=[ReviewTaskItem(**{k: v for k, v in t.__dict__.items()
                                                  if k in ReviewTaskItem.model_fields})
                                for t in tasks],
                         next_cursor=tasks[-1].id if len(tasks) == limit else None))


async def lab_alerts(request: Request) -> Response:
    who = caller(request)
    limit = query_int(request, "limit", 50)
    alerts = await services(request).lab_queries.alerts(
        who, request.query_params.get("patient_id") or None,
        request.query_params.get("cursor") or None, limit)
    return ok(AlertPage(items=[AlertItem.of(a) for a in alerts],
                        next_cursor=alerts[-1].id if len(alerts) == limit else None))


class MessageConflictItem(BaseModel):
    id: str
    sending_facility: str
    control_id: str
    first_result_id: str
    received_at: datetime
    received_by: str
    raw_message: str


class MessageConflictPage(BaseModel):
    items: list[MessageConflictItem]
    next_cursor: str | None


async def message_conflicts(request: Request) -> Response:
    who = caller(request)
    limit = query_int(request, "limit", 50)
    found = await services(request).lab_queries.message_conflicts(
        who, request.query_params.get("cursor") or None, limit)
    return ok(MessageConflictPage(items=[MessageConflictItem(**c.__dict__) for c in found],
                                  next_cursor=found[-1].id if len(found) == limit else None))


async def acknowledge_alert(request: Request) -> Response:
    who = caller(request)
    alert = await services(request).lab_alerts.acknowledge(who, request.path_params["alert_id"])
    return ok(AlertItem.of(alert))


_PAGE = (QueryParam("cursor", "next_cursor of the previous page"),
         QueryParam("limit", "Page size", {"type": "integer", "minimum": 1, "maximum": 200}))
_HL7_BODY: dict[str, Any] = {"text/plain": {"schema": {"type": "string", "minLength": 1}}}

operations: list[Operation] = [
    api_route("POST", "/api/lab/hl7-ingest", lab_ingest,
              summary="Ingest an HL7v2 ORU^R01 lab message", tag="labs", roles=("lab",),
              response_model=IngestData, request_body_schema=_HL7_BODY,
              error_statuses=(400, 413, 415, 422)),
    api_route("POST", "/api/clinical/hl7/ingest", clinical_ingest,
              summary="Ingest an ORU^R01 within a clinical session (results linked to the "
                      "encounter)", tag="labs", roles=("clinician",),
              response_model=IngestData, request_body_schema=_HL7_BODY,
              params=(QueryParam("encounter_id", "The Encounter the results belong to"),),
              error_statuses=(400, 413, 415, 422)),
    api_route("GET", "/api/patients/{patient_id}/lab-results", patient_lab_results,
              summary="A patient's laboratory results, newest first", tag="labs",
              roles=("clinician", "integrator"), response_model=LabResultPage,
              error_statuses=(422,), params=(
                  QueryParam("patient_id", "Patient id", location="path", required=True),
                  QueryParam("code", "LOINC code, or system|code"),
                  QueryParam("date_from", "From this FHIR date (inclusive)"),
                  QueryParam("date_to", "Until this FHIR date (inclusive)"),
                  QueryParam("status", "final, preliminary, corrected, ..."),
                  QueryParam("offset", "Paging offset", {"type": "integer", "minimum": 0}),
                  QueryParam("limit", "Page size", {"type": "integer", "minimum": 1,
                                                    "maximum": 200}))),
    api_route("GET", "/api/mpi/review", review_queue,
              summary="Open patient-match review tasks (probable and possible matches)",
              tag="labs", roles=("clinician", "integrator"), response_model=ReviewPage,
              error_statuses=(422,), params=_PAGE),
    api_route("GET", "/api/lab/alerts", lab_alerts, summary="Critical-value alerts, newest first",
              tag="labs", roles=("clinician", "lab", "integrator"), response_model=AlertPage,
              error_statuses=(422,), params=(QueryParam("patient_id", "Only this patient"),
                                             *_PAGE)),
    api_route("POST", "/api/lab/alerts/{alert_id}/acknowledge", acknowledge_alert,
              summary="Acknowledge a critical-value alert (records who and when; stops "
                      "escalation)", tag="labs", roles=("clinician", "lab", "integrator"),
              response_model=AlertItem, error_statuses=(404, 409),
              params=(QueryParam("alert_id", "Alert id", location="path", required=True),)),
    api_route("GET", "/api/lab/message-conflicts", message_conflicts,
              summary="Messages refused because their MSH-10 was already used for different "
                      "content, kept with their raw text for an operator", tag="labs",
              roles=("integrator",), response_model=MessageConflictPage,
              error_statuses=(422,), params=_PAGE),
    api_route("POST", "/api/cds/panic-values/check", panic_check,
              summary="Which observations are critical (table and OBX-8 flags)", tag="labs",
              roles=(), request_model=PanicCheckBody, response_model=PanicCheckResult,
              error_statuses=(400, 413, 415, 422)),
]
