"""/api/admin: the audit trail and the outbox (dead letters, replay). Admin only."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from resolvers.audit.model import AuditAction, AuditOutcome, AuditQuery
from resolvers.errors import InvalidInput
from resolvers.outbox.model import OutboxMessage, OutboxQuery, OutboxStatus
from rest_compat.envelope import ok
from rest_compat.models import (
    AuditEventView,
    AuditPage,
    OutboxMessageView,
    OutboxPage,
    ReplayBody,
    ReplayResult,
    page_cursor,
)
from rest_compat.request_context import caller, parse_body, query_int, services
from rest_compat.spec import Operation, QueryParam, api_route

E = TypeVar("E", bound=StrEnum)


def _enum(request: Request, name: str, kind: type[E]) -> E | None:
    raw = request.query_params.get(name)
    if raw is None:  # absent; an empty value is not one of the allowed ones
        return None
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidInput(f"{name} must be one of {allowed}",
                           details=[{"field": name, "message": "unknown value"}]) from None


def _datetime(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO 8601 date-time with a time zone",
                           details=[{"field": name, "message": "not a date-time"}]) from None
    if value.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone (e.g. Z or +03:00)",
                           details=[{"field": name, "message": "no time zone"}])
    return value


async def list_audit_events(request: Request) -> Response:
    who = caller(request)
    limit = query_int(request, "limit", 50)
    p = request.query_params
    records = await services(request).audit.search(who, AuditQuery(
        subject=p.get("subject") or None, patient_id=p.get("patient_id") or None,
        resource_type=p.get("resource_type") or None, action=_enum(request, "action", AuditAction),
        outcome=_enum(request, "outcome", AuditOutcome), since=_datetime(request, "since"),
        until=_datetime(request, "until"), after=p.get("cursor") or None, limit=limit))
    return ok(AuditPage(items=[AuditEventView(
        id=r.id, recorded_at=r.recorded_at, subject=r.subject, roles=list(r.roles),
        action=r.action.value, resource_type=r.resource_type, resource_id=r.resource_id,
        patient_id=r.patient_id, outcome=r.outcome.value, request_id=r.request_id,
        surface=r.surface, purpose=r.purpose) for r in records],
        next_cursor=page_cursor(records, limit)))


def _outbox_view(m: OutboxMessage) -> OutboxMessageView:
    event_type = m.payload.get("type")
    return OutboxMessageView(
        id=m.id, destination=m.destination, idempotency_key=m.idempotency_key,
        status=m.status.value, attempts=m.attempts, next_attempt_at=m.next_attempt_at,
        created_at=m.created_at, delivered_at=m.delivered_at, last_error=m.last_error,
        event_type=event_type if isinstance(event_type, str) else None)


async def list_outbox(request: Request) -> Response:
    who = caller(request)
    limit = query_int(request, "limit", 50)
    found = await services(request).outbox.search(who, OutboxQuery(
        status=_enum(request, "status", OutboxStatus),
        destination=request.query_params.get("destination") or None,
        after=request.query_params.get("cursor") or None, limit=limit))
    return ok(OutboxPage(items=[_outbox_view(m) for m in found],
                         next_cursor=page_cursor(found, limit)))


async def replay_dead_letters(request: Request) -> Response:
    who = caller(request)
    body = await parse_body(request, ReplayBody)
    count = await services(request).outbox.replay(who, body.ids)
    return ok(ReplayResult(replayed=count))


async def replay_one(request: Request) -> Response:
    count = await services(request).outbox.replay(caller(request),
                                                  [request.path_params["message_id"]])
    return ok(ReplayResult(replayed=count))


_ADMIN = ("admin",)
_PAGE = (QueryParam("cursor", "next_cursor of the previous page"),
         QueryParam("limit", "Page size", {"type": "integer", "minimum": 1, "maximum": 200,
                                           "default": 50}))

operations: list[Operation] = [
    api_route("GET", "/api/admin/audit-events", list_audit_events,
              summary="List audit records, newest first", tag="admin", roles=_ADMIN,
              response_model=AuditPage, error_statuses=(422,), params=(
                  QueryParam("subject", "Who acted (token sub)"),
                  QueryParam("patient_id", "Whose data"),
                  QueryParam("resource_type", "e.g. Patient"),
                  QueryParam("action", "C, R, U, D or E",
                             {"type": "string", "enum": [a.value for a in AuditAction]}),
                  QueryParam("outcome", "Outcome",
                             {"type": "string", "enum": [o.value for o in AuditOutcome]}),
                  QueryParam("since", "From (ISO 8601, inclusive)",
                             {"type": "string", "format": "date-time"}),
                  QueryParam("until", "Until (ISO 8601, exclusive)",
                             {"type": "string", "format": "date-time"}),
                  *_PAGE)),
    api_route("GET", "/api/admin/outbox", list_outbox, summary="List outbox messages",
              tag="admin", roles=_ADMIN, response_model=OutboxPage, error_statuses=(422,),
              params=(QueryParam("status", "pending, in_flight, delivered or dead",
                                 {"type": "string", "enum": [s.value for s in OutboxStatus]}),
                      QueryParam("destination", "Destination name"), *_PAGE)),
    api_route("POST", "/api/admin/outbox/replay", replay_dead_letters,
              summary="Replay dead letters (all, or the listed ids)", tag="admin", roles=_ADMIN,
              request_model=ReplayBody, response_model=ReplayResult,
              error_statuses=(400, 413, 415, 422)),
    api_route("POST", "/api/admin/outbox/{message_id}/replay", replay_one,
              summary="Replay one dead letter", tag="admin", roles=_ADMIN,
              response_model=ReplayResult, params=(
                  QueryParam("message_id", "Outbox message id", location="path", required=True),)),
]
