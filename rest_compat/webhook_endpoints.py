"""/api/webhooks/endpoints: outbound webhook subscriptions (admin or integrator), their
delivery log and replays; /api/webhooks/event-types: the event catalogue with its schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from resolvers.errors import InvalidInput
from resolvers.notifications.catalogue import catalogue
from resolvers.notifications.model import (
    Attempt,
    Delivery,
    DeliveryQuery,
    DeliveryStatus,
    Endpoint,
    EndpointChanges,
)
from rest_compat.envelope import ok
from rest_compat.models import page_cursor
from rest_compat.request_context import caller, parse_body, query_int, services
from rest_compat.spec import Operation, QueryParam, api_route

_ROLES = ("integrator",)
_TAG = "webhook-subscriptions"


class EndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000,
                     description="https (http only when the operator allow-listed the host)")
    event_types: list[str] = Field(min_length=1, max_length=50, description="Catalogue types "
                                   "or wildcards: *, lab.*, fhir.resource.*")
    resource_types: list[str] = Field(default_factory=list, max_length=50,
                                      description="fhir.resource.* only for these types")
    description: str = Field(default="", max_length=500)


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=8, max_length=2000)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=50)
    resource_types: list[str] | None = Field(default=None, max_length=50)
    description: str | None = Field(default=None, max_length=500)


class EndpointView(BaseModel):
    id: str
    url: str
    event_types: list[str]
    resource_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="While a rotated-out secret still signs: until when")
    managed_by_settings: bool
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, e: Endpoint) -> EndpointView:
        return cls(id=e.id, url=e.url, event_types=list(e.event_types),
                   resource_types=list(e.resource_types), description=e.description,
                   enabled=e.enabled, disabled_reason=e.disabled_reason,
                   failing_since=e.failing_since,
                   previous_secret_expires_at=e.previous_secret.expires_at
                   if e.previous_secret else None,
                   managed_by_settings=e.managed_by_settings, created_by=e.created_by,
                   created_at=e.created_at, updated_at=e.updated_at)


class EndpointWithSecret(EndpointView):
    secret: str = Field(description="whsec_...: shown this once; store it now")


class EndpointPage(BaseModel):
    items: list[EndpointView]
    next_cursor: str | None


class DeletedView(BaseModel):
    id: str
    deleted: bool


class TestEventView(BaseModel):
    event_id: str = Field(description="The webhook-id the endpoint will receive")


class DeliveryView(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: str = Field(description="pending, succeeded, exhausted, failed or skipped")
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, d: Delivery) -> DeliveryView:
        return cls(id=d.id, endpoint_id=d.endpoint_id, event_id=d.event_id,
                   event_type=d.event_type, status=d.status.value, attempts=d.attempts,
                   last_status_code=d.last_status_code, last_error=d.last_error,
                   created_at=d.created_at, updated_at=d.updated_at)


class AttemptView(BaseModel):
    id: str
    attempted_at: datetime
    status_code: int | None
    duration_ms: float
    response_excerpt: str | None = Field(description="The response body, truncated")
    error: str | None

    @classmethod
    def of(cls, a: Attempt) -> AttemptView:
        return cls(id=a.id, attempted_at=a.attempted_at, status_code=a.status_code,
                   duration_ms=a.duration_ms, response_excerpt=a.response_excerpt,
                   error=a.error)


class DeliveryDetailView(DeliveryView):
    attempt_log: list[AttemptView]


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    next_cursor: str | None


class ReplaySinceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime = Field(description="RFC 3339; deliveries created since then")


class ReplayedView(BaseModel):
    replayed: int


class EventTypeView(BaseModel):
    type: str
    version: int
    description: str
    filterable_by_resource_type: bool
    json_schema: dict[str, Any] = Field(alias="schema", description="JSON Schema of the body")

    model_config = ConfigDict(populate_by_name=True)


class EventTypeList(BaseModel):
    items: list[EventTypeView]


async def event_types(request: Request) -> Response:
    return ok(EventTypeList(items=[
        EventTypeView(type=t.name, version=t.version, description=t.description,
                      filterable_by_resource_type=t.filterable_by_resource_type,
                      schema=t.schema())
        for t in catalogue().values()]).model_dump(by_alias=True))


async def create(request: Request) -> Response:
    body = await parse_body(request, EndpointBody)
    made = await services(request).notifications.endpoints.create(
        caller(request), url=body.url, event_types=body.event_types,
        resource_types=body.resource_types, description=body.description)
    return ok(EndpointWithSecret(**EndpointView.of(made.endpoint).model_dump(),
                                 secret=made.secret), 201)


async def list_endpoints(request: Request) -> Response:
    limit = query_int(request, "limit", 50)
    found = await services(request).notifications.endpoints.list(
        caller(request), request.query_params.get("cursor") or None, limit)
    return ok(EndpointPage(items=[EndpointView.of(e) for e in found],
                           next_cursor=page_cursor(found, limit)))


def _id(request: Request) -> str:
    return str(request.path_params["endpoint_id"])


async def get_endpoint(request: Request) -> Response:
    return ok(EndpointView.of(await services(request).notifications.endpoints.get(
        caller(request), _id(request))))


async def update_endpoint(request: Request) -> Response:
    body = await parse_body(request, EndpointPatch)
    updated = await services(request).notifications.endpoints.update(
        caller(request), _id(request), EndpointChanges(
            url=body.url, description=body.description,
            event_types=tuple(body.event_types) if body.event_types is not None else None,
            resource_types=tuple(body.resource_types) if body.resource_types is not None
            else None))
    return ok(EndpointView.of(updated))


async def delete_endpoint(request: Request) -> Response:
    await services(request).notifications.endpoints.delete(caller(request), _id(request))
    return ok(DeletedView(id=_id(request), deleted=True))


async def enable(request: Request) -> Response:
    return ok(EndpointView.of(await services(request).notifications.endpoints.set_enabled(
        caller(request), _id(request), True)))


async def disable(request: Request) -> Response:
    return ok(EndpointView.of(await services(request).notifications.endpoints.set_enabled(
        caller(request), _id(request), False)))


async def rotate(request: Request) -> Response:
    rotated = await services(request).notifications.endpoints.rotate_secret(
        caller(request), _id(request))
    return ok(EndpointWithSecret(**EndpointView.of(rotated.endpoint).model_dump(),
                                 secret=rotated.secret))


async def send_test(request: Request) -> Response:
    event_id = await services(request).notifications.endpoints.send_test(
        caller(request), _id(request))
    return ok(TestEventView(event_id=event_id), 202)


async def deliveries(request: Request) -> Response:
    q = request.query_params
    limit = query_int(request, "limit", 50)
    status = q.get("status") or None
    if status is not None and status not in {s.value for s in DeliveryStatus}:
        raise InvalidInput("unknown delivery status",
                           details=[{"field": "status", "message": "not a delivery status"}])
    found = await services(request).notifications.deliveries.deliveries(
        caller(request), DeliveryQuery(
            endpoint_id=_id(request), status=DeliveryStatus(status) if status else None,
            event_type=(q.get("event_type") or None), after=q.get("cursor") or None,
            limit=limit))
    return ok(DeliveryPage(items=[DeliveryView.of(d) for d in found],
                           next_cursor=page_cursor(found, limit)))


async def delivery(request: Request) -> Response:
    found = await services(request).notifications.deliveries.delivery(
        caller(request), _id(request), request.path_params["delivery_id"])
    return ok(DeliveryDetailView(**DeliveryView.of(found.delivery).model_dump(),
                                 attempt_log=[AttemptView.of(a) for a in found.attempts]))


async def replay_one(request: Request) -> Response:
    replayed = await services(request).notifications.deliveries.replay(
        caller(request), _id(request), request.path_params["delivery_id"])
    return ok(DeliveryView.of(replayed), 202)


async def replay_since(request: Request) -> Response:
    body = await parse_body(request, ReplaySinceBody)
    count = await services(request).notifications.deliveries.replay_since(
        caller(request), _id(request), body.since)
    return ok(ReplayedView(replayed=count), 202)


_ENDPOINT = QueryParam("endpoint_id", "The endpoint id", location="path", required=True)
_DELIVERY = QueryParam("delivery_id", "The delivery id", location="path", required=True)
_BASE = "/api/webhooks/endpoints"
_ONE = _BASE + "/{endpoint_id}"
_PAGE = (QueryParam("cursor", "next_cursor of the previous page"),
         QueryParam("limit", "Page size", {"type": "integer", "minimum": 1, "maximum": 200,
                                           "default": 50}))
_BODY_ERRORS = (400, 413, 415, 422)


def _route(method: str, path: str, endpoint: Any, summary: str, **kwargs: Any) -> Operation:
    return api_route(method, path, endpoint, summary=summary, tag=_TAG, roles=_ROLES, **kwargs)


operations: list[Operation] = [
    api_route("GET", "/api/webhooks/event-types", event_types, tag=_TAG, roles=(),
              summary="The outbound webhook event catalogue: each type, its version and the "
              "JSON Schema of its body", response_model=EventTypeList),
    _route("POST", _BASE, create, "Subscribe an endpoint; its signing secret is answered "
           "this once", request_model=EndpointBody, response_model=EndpointWithSecret,
           success_status=201, error_statuses=_BODY_ERRORS),
    _route("GET", _BASE, list_endpoints, "Webhook endpoints, oldest first (no secrets)",
           response_model=EndpointPage, error_statuses=(422,), params=_PAGE),
    _route("GET", _ONE, get_endpoint, "One webhook endpoint (no secret)",
           response_model=EndpointView, error_statuses=(404,), params=(_ENDPOINT,)),
    _route("PATCH", _ONE, update_endpoint, "Change an endpoint's URL, event types, resource "
           "types or description", request_model=EndpointPatch, response_model=EndpointView,
           error_statuses=(404, *_BODY_ERRORS), params=(_ENDPOINT,)),
    _route("DELETE", _ONE, delete_endpoint, "Delete an endpoint and its delivery log",
           response_model=DeletedView, error_statuses=(404,), params=(_ENDPOINT,)),
    _route("POST", _ONE + "/enable", enable, "Enable an endpoint (its URL is checked again)",
           response_model=EndpointView, error_statuses=(404, 422), params=(_ENDPOINT,)),
    _route("POST", _ONE + "/disable", disable, "Disable an endpoint: events meanwhile are "
           "logged as skipped, replayable", response_model=EndpointView,
           error_statuses=(404,), params=(_ENDPOINT,)),
    _route("POST", _ONE + "/rotate-secret", rotate, "A new signing secret, answered this "
           "once; the old one still signs during CARI_WEBHOOK_ROTATION_GRACE_SECONDS",
           response_model=EndpointWithSecret, error_statuses=(404,), params=(_ENDPOINT,)),
    _route("POST", _ONE + "/test", send_test, "Queue a webhook.test event to this endpoint "
           "only", response_model=TestEventView, success_status=202, error_statuses=(404,),
           params=(_ENDPOINT,)),
    _route("GET", _ONE + "/deliveries", deliveries, "The endpoint's delivery log, newest "
           "first", response_model=DeliveryPage, error_statuses=(404, 422), params=(
               _ENDPOINT, QueryParam("status", "Delivery status", {
                   "type": "string", "enum": [s.value for s in DeliveryStatus]}),
               QueryParam("event_type", "An event type of the catalogue"), *_PAGE)),
    _route("GET", _ONE + "/deliveries/{delivery_id}", delivery, "One delivery with every "
           "attempt: status code, time, truncated response", response_model=DeliveryDetailView,
           error_statuses=(404,), params=(_ENDPOINT, _DELIVERY)),
    _route("POST", _ONE + "/deliveries/{delivery_id}/replay", replay_one, "Send a delivery "
           "again (same webhook-id) on a fresh schedule", response_model=DeliveryView,
           success_status=202, error_statuses=(404, 409), params=(_ENDPOINT, _DELIVERY)),
    _route("POST", _ONE + "/replay", replay_since, "Send again every delivery since a time "
           "that did not succeed (exhausted, failed, skipped)", request_model=ReplaySinceBody,
           response_model=ReplayedView, success_status=202,
           error_statuses=(404, *_BODY_ERRORS), params=(_ENDPOINT,)),
]
