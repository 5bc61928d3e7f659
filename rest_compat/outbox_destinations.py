"""/api/admin/outbox/destinations: pause and resume an outbox destination (integrator or
admin; see resolvers/outbox/destinations.py). A paused destination's rows wait, pending and
unretried, until it is resumed; deliveries already in flight finish."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from resolvers.outbox.destinations import MAX_REASON, DestinationState
from resolvers.outbox.model import PausedDestination
from rest_compat.envelope import ok
from rest_compat.models import Strict
from rest_compat.request_context import caller, parse_body, services
from rest_compat.spec import Operation, QueryParam, api_route


class PauseBody(Strict):
    reason: str | None = Field(default=None, max_length=MAX_REASON,
                               description="Why (shown on the console's failures page)")


class DestinationView(BaseModel):
    destination: str
    paused: bool
    paused_at: datetime | None = None
    paused_by: str | None = Field(default=None, description="The operator's subject")
    reason: str | None = None
    pending: int = Field(default=0, description="Rows waiting (never attempted, or due again)")
    failing: int = Field(default=0, description="Pending rows whose last attempt failed")
    in_flight: int = 0
    dead: int = 0


class DestinationList(BaseModel):
    items: list[DestinationView]


class ResumeResult(BaseModel):
    destination: str
    resumed: bool = Field(description="False when it was not paused")


def _view(state: DestinationState) -> DestinationView:
    pause, depth = state.pause, state.depth
    return DestinationView(
        destination=state.destination, paused=pause is not None,
        paused_at=pause.paused_at if pause else None, paused_by=pause.paused_by if pause else None,
        reason=pause.reason if pause else None, pending=depth.pending, failing=depth.failing,
        in_flight=depth.in_flight, dead=depth.dead)


def _paused_view(pause: PausedDestination) -> DestinationView:
    return DestinationView(destination=pause.destination, paused=True, paused_at=pause.paused_at,
                           paused_by=pause.paused_by, reason=pause.reason)


async def list_destinations(request: Request) -> Response:
    states = await services(request).outbox_destinations.states(caller(request))
    return ok(DestinationList(items=[_view(s) for s in states]))


async def pause_destination(request: Request) -> Response:
    who = caller(request)
    body = await parse_body(request, PauseBody, when_empty=PauseBody())
    destinations = services(request).outbox_destinations
    pause = await destinations.pause(who, request.path_params["destination"], body.reason)
    # Answered with its rows (how many wait), as the list shows it.
    state = next((s for s in await destinations.states(who)
                  if s.destination == pause.destination), None)
    return ok(_view(state) if state is not None else _paused_view(pause))


async def resume_destination(request: Request) -> Response:
    destination = request.path_params["destination"]
    resumed = await services(request).outbox_destinations.resume(caller(request), destination)
    return ok(ResumeResult(destination=destination, resumed=resumed))


_OPERATORS = ("admin", "integrator")
_DESTINATION = QueryParam("destination", "Destination name, as GET /api/admin/outbox/destinations"
                          " lists it", location="path", required=True)

operations: list[Operation] = [
    api_route("GET", "/api/admin/outbox/destinations", list_destinations,
              summary="Outbox destinations: paused or running, and their undelivered rows",
              tag="admin", roles=_OPERATORS, response_model=DestinationList),
    api_route("POST", "/api/admin/outbox/destinations/{destination}/pause", pause_destination,
              summary="Pause a destination: its rows wait, unretried, until resumed "
                      "(pausing a paused one keeps the first pause)",
              tag="admin", roles=_OPERATORS, request_model=PauseBody,
              response_model=DestinationView, params=(_DESTINATION,),
              error_statuses=(400, 404, 413, 415, 422)),
    api_route("POST", "/api/admin/outbox/destinations/{destination}/resume", resume_destination,
              summary="Resume a paused destination: its waiting rows go, oldest first",
              tag="admin", roles=_OPERATORS, response_model=ResumeResult,
              params=(_DESTINATION,), error_statuses=(404,)),
]
