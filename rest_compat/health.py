"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from resolvers.errors import Forbidden
from resolvers.principal import Role
from rest_compat.envelope import JSONResponse
from rest_compat.request_context import caller, services
from rest_compat.spec import Operation, api_route

METRICS_SCOPE = "metrics:read"


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    # The app's own probe: it answers before the gateway is built and while it runs.
    checks = await request.app.state.health.ready()
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, object] = {"status": "ok" if ready else "unavailable", "checks": checks}
    # Channel states that do not make the gateway unready (messages wait, nothing is lost),
    # but that an operator must act on: an expired WhatsApp access token.
    # Also each configured payment provider's state from this process's calls (ok, degraded,
    # failing, unknown): shown, never a reason to be unready.
    gateway = getattr(request.app.state, "services", None)
    details: dict[str, str] = {}
    sender = getattr(gateway, "messaging", None)
    if sender is not None and sender.sender is not None:
        details["whatsapp"] = "token_expired" if sender.sender.health.token_expired else "ok"
    payments = getattr(gateway, "payments", None)
    if payments is not None:
        details.update({f"payments.{name}": state
                        for name, state in payments.provider_health.states().items()})
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=200 if ready else 503)


async def metrics(request: Request) -> Response:
    who = caller(request).principal
    if Role.ADMIN not in who.roles and METRICS_SCOPE not in who.scopes:
        raise Forbidden(f"metrics need the admin role or the {METRICS_SCOPE} scope")
    counts = await services(request).outbox.counts()
    alerts = await services(request).lab_alerts.open_counts()
    body = request.app.state.metrics.render(counts, alerts)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


HEALTH_SCHEMA = {"type": "object", "required": ["status"],
                 "properties": {"status": {"type": "string"},
                                "checks": {"type": "object",
                                           "additionalProperties": {"type": "string"}},
                                "details": {"type": "object",
                                            "additionalProperties": {"type": "string"}}}}

operations: list[Operation] = [
    api_route("GET", "/healthz", healthz, summary="Liveness: the process is up", tag="operations",
              envelope=False, raw_responses={"200": {"description": "alive", "content": {
                  "application/json": {"schema": HEALTH_SCHEMA}}}}),
    api_route("GET", "/readyz", readyz, summary="Readiness: the database answers",
              tag="operations", envelope=False, raw_responses={
                  "200": {"description": "ready", "content": {
                      "application/json": {"schema": HEALTH_SCHEMA}}},
                  "503": {"description": "a dependency is down", "content": {
                      "application/json": {"schema": HEALTH_SCHEMA}}}}),
    api_route("GET", "/metrics", metrics, summary="Prometheus metrics (admin or metrics:read)",
              tag="operations", roles=(Role.ADMIN.value,), scopes=(METRICS_SCOPE,),
              envelope=False, raw_responses={
                  "200": {"description": "Prometheus text format",
                          "content": {"text/plain": {"schema": {"type": "string"}}}}}),
]
