"""/api/notifications: WhatsApp messages to patients (send now or later, list, read, cancel),
message templates (list, register, sync from the Graph API), and a patient's messaging
consent. Clinicians and integrators (and admins); template registration and sync for
integrators. Every access to a patient's messages or consent is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from resolvers.messaging.model import (
    ConsentState,
    MessageQuery,
    MessageStatus,
    Purpose,
    StoredMessage,
    Template,
    TemplateStatus,
    placeholders,
)
from resolvers.messaging.service import ConsentView, SendRequest, registered
from rest_compat.admin import _enum
from rest_compat.envelope import ok
from rest_compat.models import page_cursor
from rest_compat.request_context import caller, parse_body, query_int, services
from rest_compat.spec import Operation, QueryParam, api_route

_TAG = "notifications"
_SENDERS = ("clinician", "integrator")
_PHONE = r"^\+?[0-9 ()\-.]{6,24}$"


class NotificationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: str | None = Field(default=None, min_length=1, max_length=64)
    phone: str | None = Field(default=None, pattern=_PHONE, description="Any usual form; "
                              "normalised to E.164 (national forms need country or the "
                              "patient's country)")
    country: str | None = Field(default=None, pattern="^[A-Za-z]{2}$",
                                description="ISO 3166-1 alpha-2 for a national number")
    template: str | None = Field(default=None, min_length=1, max_length=512)
    language: str | None = Field(default=None, min_length=2, max_length=16)
    params: list[str] = Field(default_factory=list, max_length=20,
                              description="Body parameters, {{1}} first")
    header_params: list[str] = Field(default_factory=list, max_length=5)
    button_payloads: list[str] = Field(default_factory=list, max_length=10)
    text: str | None = Field(default=None, min_length=1, max_length=4096,
                             description="Free-form text instead of a template: only within "
                             "24 h of the recipient's last message")
    send_at: AwareDatetime | None = Field(default=None, description="Absent or past: now")
    key: str | None = Field(default=None, min_length=1, max_length=200,
                            description="Your idempotency key: the same key answers the "
                            "message already stored")


class NotificationView(BaseModel):
    id: str
    key: str
    purpose: str
    kind: str = Field(description="template or text")
    patient_id: str | None
    template: str | None
    language: str | None
    status: str = Field(description="scheduled, sending, sent, delivered, read, failed, "
                        "cancelled or suppressed")
    reason: str | None = Field(description="Why it failed, was suppressed or is retried")
    error_code: int | None = Field(description="The WhatsApp error code, when one came")
    send_at: datetime
    attempts: int
    wamid: str | None = Field(description="WhatsApp's message id once accepted")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, m: StoredMessage) -> NotificationView:
        return cls(id=m.id, key=m.key, purpose=m.purpose.value, kind=m.kind.value,
                   patient_id=m.patient_id, template=m.template.name if m.template else None,
                   language=m.template.language if m.template else None,
                   status=m.status.value, reason=m.reason, error_code=m.error_code,
                   send_at=m.send_at, attempts=m.attempts, wamid=m.wamid,
                   created_at=m.created_at, updated_at=m.updated_at)


class NotificationPage(BaseModel):
    items: list[NotificationView]
    next_cursor: str | None


class TemplateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field(min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}(_[A-Za-z]{2})?$")
    body: str = Field(min_length=1, max_length=1024, description="With {{1}}.. placeholders")
    header: str | None = Field(default=None, max_length=60)
    buttons: list[str] = Field(default_factory=list, max_length=10,
                               description="Quick-reply button texts")
    category: str = Field(default="UTILITY", pattern="^(UTILITY|MARKETING|AUTHENTICATION)$")
    status: TemplateStatus = Field(default=TemplateStatus.PENDING, description="As Meta has "
                                   "it; a sync replaces it with Meta's")


class TemplateView(BaseModel):
    name: str
    language: str
    status: str
    category: str
    body: str
    header: str | None
    buttons: list[str]
    body_params: int
    header_params: int
    synced_at: datetime | None

    @classmethod
    def of(cls, t: Template) -> TemplateView:
        return cls(name=t.name, language=t.language, status=t.status.value,
                   category=t.category, body=t.body, header=t.header,
                   buttons=list(t.buttons), body_params=placeholders(t.body),
                   header_params=placeholders(t.header), synced_at=t.synced_at)


class TemplateList(BaseModel):
    items: list[TemplateView]


class ConsentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: ConsentState = Field(description="opted_in or opted_out")
    phone: str | None = Field(default=None, pattern=_PHONE,
                              description="Absent: the patient's recorded phone")


class ConsentEventView(BaseModel):
    state: str
    source: str = Field(description="api or keyword (the phone's own STOP/START)")
    actor: str
    at: datetime


class ConsentResult(BaseModel):
    patient_id: str
    phone: str = Field(description="E.164")
    state: str | None = Field(description="opted_in, opted_out, or null: never asked")
    history: list[ConsentEventView]

    @classmethod
    def of(cls, v: ConsentView) -> ConsentResult:
        return cls(patient_id=v.patient_id, phone=v.phone,
                   state=v.state.value if v.state else None,
                   history=[ConsentEventView(state=e.state.value, source=e.source,
                                             actor=e.actor, at=e.at) for e in v.history])


# ---------------------------------------------------------------- handlers


async def send(request: Request) -> Response:
    body = await parse_body(request, NotificationBody)
    stored, new = await services(request).messaging.use_cases.send(caller(request), SendRequest(
        patient_id=body.patient_id, phone=body.phone, country=body.country,
        template=body.template, language=body.language, params=tuple(body.params),
        header_params=tuple(body.header_params), button_payloads=tuple(body.button_payloads),
        text=body.text, send_at=body.send_at, key=body.key))
    return ok(NotificationView.of(stored), 201 if new else 200)


async def list_notifications(request: Request) -> Response:
    limit = query_int(request, "limit", 50)
    found = await services(request).messaging.use_cases.search(caller(request), MessageQuery(
        patient_id=(request.query_params.get("patient_id") or None),
        status=_enum(request, "status", MessageStatus),
        purpose=_enum(request, "purpose", Purpose),
        after=request.query_params.get("cursor") or None, limit=limit))
    return ok(NotificationPage(items=[NotificationView.of(m) for m in found],
                               next_cursor=page_cursor(found, limit)))


async def get_notification(request: Request) -> Response:
    return ok(NotificationView.of(await services(request).messaging.use_cases.get(
        caller(request), request.path_params["notification_id"])))


async def cancel_notification(request: Request) -> Response:
    return ok(NotificationView.of(await services(request).messaging.use_cases.cancel(
        caller(request), request.path_params["notification_id"])))


async def list_templates(request: Request) -> Response:
    found = await services(request).messaging.use_cases.templates(caller(request))
    return ok(TemplateList(items=[TemplateView.of(t) for t in found]))


async def register_template(request: Request) -> Response:
    body = await parse_body(request, TemplateBody)
    made = await services(request).messaging.use_cases.register_template(
        caller(request), registered(body.name, body.language, body.body, header=body.header,
                                    buttons=tuple(body.buttons), category=body.category,
                                    status=body.status))
    return ok(TemplateView.of(made), 201)


async def sync_templates(request: Request) -> Response:
    found = await services(request).messaging.use_cases.sync_templates(caller(request))
    return ok(TemplateList(items=[TemplateView.of(t) for t in found]))


async def get_consent(request: Request) -> Response:
    view = await services(request).messaging.use_cases.consent(
        caller(request), request.path_params["patient_id"],
        request.query_params.get("phone") or None)
    return ok(ConsentResult.of(view))


async def put_consent(request: Request) -> Response:
    body = await parse_body(request, ConsentBody)
    view = await services(request).messaging.use_cases.set_consent(
        caller(request), request.path_params["patient_id"], body.state, body.phone)
    return ok(ConsentResult.of(view))


# ---------------------------------------------------------------- declarations

_ID = QueryParam("notification_id", "The message id", location="path", required=True)
_PATIENT = QueryParam("patient_id", "The patient id", location="path", required=True)
_BODY_ERRORS = (400, 413, 415, 422)


def _route(method: str, path: str, endpoint: Any, summary: str, *,
           roles: tuple[str, ...] = _SENDERS, **kwargs: Any) -> Operation:
    return api_route(method, path, endpoint, summary=summary, tag=_TAG, roles=roles, **kwargs)


operations: list[Operation] = [
    _route("GET", "/api/notifications/templates", list_templates, "WhatsApp message "
           "templates per language, with their approval status", response_model=TemplateList),
    _route("POST", "/api/notifications/templates", register_template, "Register (or "
           "replace) a template as the WhatsApp Business Account has it",
           roles=("integrator",), request_model=TemplateBody, response_model=TemplateView,
           success_status=201, error_statuses=_BODY_ERRORS),
    _route("POST", "/api/notifications/templates/sync", sync_templates, "Sync templates and "
           "their approval status from the Graph API", roles=("integrator",),
           response_model=TemplateList, error_statuses=(409, 502)),
    _route("POST", "/api/notifications", send, "Send or schedule a WhatsApp message to a "
           "patient or phone: a template with its parameters, or free-form text within the "
           "24-hour window. 409 with the reason when it cannot be sent (opted out, no opt-in, "
           "window closed)", request_model=NotificationBody, response_model=NotificationView,
           success_status=201, error_statuses=(*_BODY_ERRORS, 404, 409)),
    _route("GET", "/api/notifications", list_notifications, "WhatsApp messages, newest "
           "first", response_model=NotificationPage, error_statuses=(422,), params=(
               QueryParam("patient_id", "Only this patient's"),
               QueryParam("status", "Message status", {"type": "string", "enum": [
                   s.value for s in MessageStatus]}),
               QueryParam("purpose", "Why it is sent", {"type": "string", "enum": [
                   p.value for p in Purpose]}),
               QueryParam("cursor", "next_cursor of the previous page"),
               QueryParam("limit", "Page size", {"type": "integer", "minimum": 1,
                                                 "maximum": 200, "default": 50}))),
    _route("GET", "/api/notifications/{notification_id}", get_notification, "One WhatsApp "
           "message and its status", response_model=NotificationView, error_statuses=(404,),
           params=(_ID,)),
    _route("POST", "/api/notifications/{notification_id}/cancel", cancel_notification,
           "Cancel a scheduled message (409 once it is being sent or sent)",
           response_model=NotificationView, error_statuses=(404, 409), params=(_ID,)),
    _route("GET", "/api/patients/{patient_id}/messaging-consent", get_consent, "The "
           "patient's WhatsApp consent on a phone, with its history",
           response_model=ConsentResult, error_statuses=(404, 422), params=(
               _PATIENT, QueryParam("phone", "Absent: the patient's recorded phone"))),
    _route("PUT", "/api/patients/{patient_id}/messaging-consent", put_consent, "Record the "
           "patient's WhatsApp opt-in or opt-out", request_model=ConsentBody,
           response_model=ConsentResult, error_statuses=(*_BODY_ERRORS, 404),
           params=(_PATIENT,)),
]
