"""Lab alerts: the critical values nobody acknowledged yet first, then the recent ones that
were; acknowledge one (a POST with the CSRF token through the same ``LabAlerts`` use case as
REST and GraphQL, which records who and when, stops escalation and audits)."""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response

from resolvers.errors import Conflict, NotFound
from resolvers.principal import Role
from rest_compat.console.errors import error_text
from rest_compat.console.framework import ConsoleRequest, Page

PAGE_SIZE = 50
RECENT = 50
ROLES = frozenset({Role.CLINICIAN.value, Role.LAB.value})


async def _context(console: ConsoleRequest, notice: str, error: str) -> dict[str, Any]:
    queries = console.services.lab_queries
    after = console.request.query_params.get("after") or None
    waiting = await queries.alerts(console.caller, None, after, PAGE_SIZE, unacknowledged=True)
    recent = await queries.alerts(console.caller, None, None, RECENT)
    return {"waiting": waiting,
            "next_cursor": waiting[-1].id if len(waiting) == PAGE_SIZE else None,
            "acknowledged": [a for a in recent if a.acknowledged_at is not None],
            "notice": notice, "error": error}


async def _render(console: ConsoleRequest, *, notice: str = "", error: str = "",
                  status_code: int = 200) -> Response:
    context = await _context(console, notice, error)
    if console.is_htmx:
        return console.render("partials/alert_lists.html", context)
    return console.render("alerts.html", context, status_code=status_code)


async def alerts_page(console: ConsoleRequest) -> Response:
    done = console.request.query_params.get("done") == "acknowledged"
    return await _render(console, notice="acknowledged" if done else "")


async def acknowledge(console: ConsoleRequest) -> Response:
    alert_id = console.request.path_params["alert_id"]
    try:
        await console.services.lab_alerts.acknowledge(console.caller, alert_id)
    except (Conflict, NotFound) as exc:
        return await _render(console, error=error_text(console.request, exc),
                             status_code=409 if isinstance(exc, Conflict) else 404)
    if console.is_htmx:
        return await _render(console, notice="acknowledged")
    return RedirectResponse("/console/alerts?done=acknowledged", status_code=303)


PAGES = [
    Page("/alerts", alerts_page, "alerts", roles=ROLES, nav_key="nav.alerts", order=50),
    Page("/alerts/{alert_id}/acknowledge", acknowledge, "alert-acknowledge", roles=ROLES,
         methods=("POST",)),
]
