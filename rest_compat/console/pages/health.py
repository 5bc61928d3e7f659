"""Health: readiness checks, outbox depth per destination, the HIEs' circuits and last
answers, the payment providers' calls and stored last answers, expiring certificates and keys,
and the settings with their secrets masked (resolvers/operations/health)."""

from __future__ import annotations

from starlette.responses import Response

from rest_compat.console.framework import ConsoleRequest, Page

STATE_BADGES = {"ok": "ok", "closed": "ok", "no_expiry": "ok", "expiring": "warn",
                "half_open": "warn", "open": "bad", "expired": "bad", "unreadable": "bad",
                "degraded": "warn", "failing": "bad", "unknown": ""}


async def health_page(console: ConsoleRequest) -> Response:
    report = await console.services.operations_health.report(console.caller)
    return console.render("health.html", {"report": report, "badges": STATE_BADGES})


PAGES = [Page("/health", health_page, "health", nav_key="nav.health", order=90)]
