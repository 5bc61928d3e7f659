"""Inbound webhooks: Stripe, LiveKit, Resend and signed lead capture; the admin inbox.

Every delivery route keeps the raw body, has the provider's verifier check it, stores the
event with its processing job in one transaction and answers at once; the outbox worker
processes it. Providers authenticate by signature, never by bearer token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.requests import Request
from starlette.responses import Response

from resolvers.errors import InvalidInput
from resolvers.services import Services
from resolvers.webhooks.errors import MalformedDelivery, SignatureRejected
from resolvers.webhooks.model import EventStatus, InboundEvent, WebhookEvent, WebhookEventQuery
from rest_compat.admin import _enum
from rest_compat.body import read_body
from rest_compat.envelope import ok
from rest_compat.models import page_cursor
from rest_compat.request_context import caller, query_int, services
from rest_compat.spec import Operation, QueryParam, api_route

# ---------------------------------------------------------------- bodies


class WebhookAck(BaseModel):
    id: str = Field(description="Our id of the stored event")
    duplicate: bool = Field(description="true when this event was received before")


class LeadBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320,
                              pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()\-]{7,20}$",
                              description="7 to 15 digits, optionally starting with +")
    organisation: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, pattern="^[A-Za-z]{2}$",
                                description="ISO 3166-1 alpha-2")
    message: str | None = Field(default=None, max_length=2000)
    consent: bool = Field(default=False, description="The person agreed to be contacted")

    @model_validator(mode="after")
    def _reachable(self) -> LeadBody:
        if not self.email and not self.phone:
            raise ValueError("a lead needs an email or a phone number")
        return self


class WebhookEventView(BaseModel):
    id: str
    provider: str
    event_id: str = Field(description="The provider's event id")
    event_type: str
    subject_id: str | None
    status: str = Field(description="received, processed, failed, dead or ignored")
    attempts: int
    last_error: str | None
    received_at: datetime
    processed_at: datetime | None

    @classmethod
    def of(cls, e: WebhookEvent) -> WebhookEventView:
        return cls(id=e.id, provider=e.provider, event_id=e.event_id, event_type=e.event_type,
                   subject_id=e.subject_id, status=e.status, attempts=e.attempts,
                   last_error=e.last_error, received_at=e.received_at,
                   processed_at=e.processed_at)


class WebhookEventDetail(WebhookEventView):
    payload: dict[str, Any] = Field(description="The verified body, as the provider sent it")


class WebhookEventPage(BaseModel):
    items: list[WebhookEventView]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end")


# ---------------------------------------------------------------- deliveries


async def _raw_body(request: Request) -> bytes:
    """The exact bytes the provider signed, refused beyond the configured size."""
    limit: int = request.app.state.settings.webhook_max_body_bytes
    return await read_body(request, limit)


async def _verified(request: Request, provider: str) -> InboundEvent:
    found = services(request)
    intake = found.webhooks.intake
    # Unconfigured: refused (ProviderNotConfigured) before the body is even read.
    raw = await _raw_body(request) if intake.configured(provider) else b""
    try:
        return intake.verify(provider, raw, request.headers)
    except (SignatureRejected, MalformedDelivery) as exc:
        await refused_webhook(found, provider, raw, exc)
        raise


async def refused_webhook(found: Services, provider: str, raw: bytes,
                          exc: SignatureRejected | MalformedDelivery) -> None:
    """Kept for the console's message log (a bounded prefix only: the body is
    unauthenticated), with the answer the provider gets."""
    status = 401 if isinstance(exc, SignatureRejected) else 400
    await found.refused_messages.webhook(provider, raw, reason=exc.message,
                                         answer=f"HTTP {status}")


async def _store(request: Request, event: InboundEvent) -> Response:
    result = await services(request).webhooks.intake.receive(event)
    return ok(WebhookAck(id=result.event.id, duplicate=result.duplicate))


async def stripe_webhook(request: Request) -> Response:
    return await _store(request, await _verified(request, "stripe"))


async def livekit_webhook(request: Request) -> Response:
    return await _store(request, await _verified(request, "livekit"))


async def resend_webhook(request: Request) -> Response:
    return await _store(request, await _verified(request, "resend"))


async def lead_webhook(request: Request) -> Response:
    event = await _verified(request, "lead")
    try:
        lead = LeadBody.model_validate(event.payload["lead"])
    except ValidationError as exc:
        raise InvalidInput("the lead is not valid", details=[
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors()]) from None
    payload = {"source": event.payload["source"], "lead": lead.model_dump(mode="json")}
    return await _store(request, InboundEvent(
        provider=event.provider, event_id=event.event_id, event_type=event.event_type,
        payload=payload, subject_id=event.subject_id))


# ---------------------------------------------------------------- admin inbox


async def list_events(request: Request) -> Response:
    who = caller(request)
    limit = query_int(request, "limit", 50)
    provider = request.query_params.get("provider") or None
    found = await services(request).webhooks.admin.search(who, WebhookEventQuery(
        provider=provider[:32] if provider else None,
        status=_enum(request, "status", EventStatus),
        after=request.query_params.get("cursor") or None, limit=limit))
    return ok(WebhookEventPage(items=[WebhookEventView.of(e) for e in found],
                               next_cursor=page_cursor(found, limit)))


async def get_event(request: Request) -> Response:
    event = await services(request).webhooks.admin.get(caller(request),
                                                       request.path_params["event_id"])
    return ok(WebhookEventDetail(**WebhookEventView.of(event).model_dump(),
                                 payload=dict(event.payload)))


async def replay_event(request: Request) -> Response:
    event = await services(request).webhooks.admin.replay(caller(request),
                                                          request.path_params["event_id"])
    return ok(WebhookEventView.of(event))


# ---------------------------------------------------------------- declarations

_JSON_BODY = {"schema": {"type": "object"}}
_DELIVERY_ERRORS = (400, 401, 404, 409, 413)
_NOT_CONFIGURED = ("404 when the provider's secret is not configured: unsigned deliveries are "
                   "never accepted. ")
_ADMIN = ("admin",)
_EVENT_ID = QueryParam("event_id", "Webhook event id", location="path", required=True)


def _header(name: str, description: str) -> QueryParam:
    return QueryParam(name, description, location="header")


operations: list[Operation] = [
    api_route("POST", "/api/webhooks/stripe", stripe_webhook,
              summary="Stripe event (Stripe-Signature, 300 s tolerance, rotated secrets)",
              tag="webhooks", response_model=WebhookAck, error_statuses=_DELIVERY_ERRORS,
              request_body_schema={"application/json": _JSON_BODY},
              request_headers=(_header("Stripe-Signature",
                                       "t=<unix>,v1=<hex HMAC-SHA256(secret, t + '.' + body)>. "
                                       + _NOT_CONFIGURED),)),
    api_route("POST", "/api/webhooks/livekit", livekit_webhook,
              # OpenAPI ignores Authorization header parameters, so the scheme is told here.
              summary="LiveKit event; Authorization: an HS256 JWT signed with the LiveKit API "
                      "secret, iss = API key, sha256 = base64 SHA-256 of the raw body. 404 when "
                      "the API key and secret are not configured",
              tag="webhooks", response_model=WebhookAck, error_statuses=_DELIVERY_ERRORS,
              request_body_schema={"application/webhook+json": _JSON_BODY,
                                   "application/json": _JSON_BODY}),
    api_route("POST", "/api/gtm/webhooks/resend", resend_webhook,
              summary="Resend email event, delivered and signed by Svix",
              tag="webhooks", response_model=WebhookAck, error_statuses=_DELIVERY_ERRORS,
              request_body_schema={"application/json": _JSON_BODY},
              request_headers=(
                  _header("svix-id", "Message id (the dedupe key)"),
                  _header("svix-timestamp", "Unix seconds, within 5 minutes of our clock"),
                  _header("svix-signature", "v1,<base64 HMAC-SHA256(key, id.timestamp.body)> "
                          "entries separated by spaces. " + _NOT_CONFIGURED))),
    api_route("POST", "/api/gtm/webhooks/inbound", lead_webhook,
              summary="Inbound lead from a configured source (HMAC-SHA256 signed)",
              tag="webhooks", response_model=WebhookAck, request_model=LeadBody,
              error_statuses=(*_DELIVERY_ERRORS, 422),
              request_headers=(
                  _header("X-Cari-Lead-Source", "The source name configured in "
                          "CARI_LEAD_SOURCES"),
                  _header("X-Cari-Timestamp", "Unix seconds; within 300 s of our clock"),
                  _header("X-Cari-Signature", "sha256=<hex HMAC-SHA256(source secret, "
                          "X-Cari-Timestamp + '.' + raw body)>. " + _NOT_CONFIGURED),
                  _header("Idempotency-Key", "Optional lead id (1-180 printable ASCII); "
                          "without it the body's SHA-256 is the dedupe key"))),
    api_route("GET", "/api/webhooks/events", list_events, summary="List received webhook events, "
              "newest first", tag="webhooks", roles=_ADMIN, response_model=WebhookEventPage,
              error_statuses=(422,), params=(
                  QueryParam("provider", "stripe, livekit, resend, lead, mpesa, mtn_momo, ..."),
                  QueryParam("status", "Processing status",
                             {"type": "string", "enum": [s.value for s in EventStatus]}),
                  QueryParam("cursor", "next_cursor of the previous page"),
                  QueryParam("limit", "Page size", {"type": "integer", "minimum": 1,
                                                    "maximum": 200, "default": 50}))),
    api_route("GET", "/api/webhooks/events/{event_id}", get_event,
              summary="One received webhook event with its payload", tag="webhooks",
              roles=_ADMIN, response_model=WebhookEventDetail, error_statuses=(404,),
              params=(_EVENT_ID,)),
    api_route("POST", "/api/webhooks/events/{event_id}/replay", replay_event,
              summary="Process a received webhook event again", tag="webhooks", roles=_ADMIN,
              response_model=WebhookEventView, error_statuses=(404,), params=(_EVENT_ID,)),
]
