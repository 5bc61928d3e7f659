"""Health: readiness checks, outbox depth per destination, adapters' circuits and last
successes, expiring certificates and keys, and the settings with their secrets masked."""

from __future__ import annotations

from starlette.responses import Response

from rest_compat.console.framework import ConsoleRequest, Page


async def health_page(console: ConsoleRequest) -> Response:
    checks = await console.request.app.state.health.ready()
    return console.render("health.html", {"checks": checks})


PAGES = [Page("/health", health_page, "health", nav_key="nav.health", order=90)]
