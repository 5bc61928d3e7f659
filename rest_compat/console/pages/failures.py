"""Failures: dead letters and failed deliveries per destination with the last error; replay
one or a selection (checkboxes, one POST, htmx refreshes the section); disable and enable a
webhook endpoint; pause and resume an outbox destination (resolvers/operations/failures).
Without JavaScript the same forms post and come back to the page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.responses import RedirectResponse, Response

from resolvers.errors import Forbidden, InvalidInput, NotFound
from resolvers.operations.failures.report import FailureReport
from rest_compat.console.errors import error_text
from rest_compat.console.framework import ConsoleRequest, Page
from rest_compat.console.rendering import PREFIX

MAX_SELECTED = 500
ERROR_CHARS = 300


def shown_url(url: str) -> str:
    """An endpoint's address without userinfo or query (either may carry a secret)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "?"
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _context(report: FailureReport, **extra: Any) -> dict[str, Any]:
    return {"report": report, "shown_url": shown_url, "error_chars": ERROR_CHARS, **extra}


async def _answer(console: ConsoleRequest, partial: str, **notice: Any) -> Response:
    if not console.is_htmx:
        return RedirectResponse(PREFIX + "/failures", status_code=303)
    report = await console.services.operations_failures.report(console.caller)
    return console.render(f"partials/{partial}", _context(report, **notice))


async def failures_page(console: ConsoleRequest) -> Response:
    report = await console.services.operations_failures.report(console.caller)
    return console.render("failures.html", _context(report))


async def replay_dead_letters(console: ConsoleRequest) -> Response:
    selected = console.form.getlist("message_id")[:MAX_SELECTED]
    try:
        count = await console.services.operations_failures.replay_dead_letters(
            console.caller, selected)
    except Forbidden:
        return await _answer(console, "failures_outbox.html", notice_key="failures.need_admin")
    return await _answer(console, "failures_outbox.html",
                         notice_key="failures.outbox_replayed", notice_count=count)


async def replay_deliveries(console: ConsoleRequest) -> Response:
    pairs = [tuple(value.split(":", 1)) for value in console.form.getlist("delivery")
             if value.count(":") == 1][:MAX_SELECTED]
    outcome = await console.services.operations_failures.replay_deliveries(
        console.caller, [(endpoint, delivery) for endpoint, delivery in pairs])
    return await _answer(console, "failures_webhooks.html",
                         notice_key="failures.deliveries_replayed",
                         notice_count=outcome.replayed, notice_skipped=outcome.skipped)


async def switch_endpoint(console: ConsoleRequest) -> Response:
    enable = console.form.get("enabled") == "true"
    try:
        await console.services.operations_failures.set_endpoint_enabled(
            console.caller, console.form.get("endpoint_id"), enable)
    except (NotFound, InvalidInput) as exc:
        # Gone meanwhile, or its URL no longer allowed: the page again, saying why.
        report = await console.services.operations_failures.report(console.caller)
        context = _context(report, error=error_text(console.request, exc))
        status = 404 if isinstance(exc, NotFound) else 400
        if console.is_htmx:  # htmx swaps only 2xx answers
            return console.render("partials/failures_webhooks.html", context)
        return console.render("failures.html", context, status_code=status)
    return await _answer(console, "failures_webhooks.html",
                         notice_key="failures.enabled" if enable else "failures.disabled")


async def switch_destination(console: ConsoleRequest) -> Response:
    destination = console.form.get("destination")
    pause = console.form.get("action") == "pause"
    failures = console.services.operations_failures
    try:
        if pause:
            await failures.pause_destination(console.caller, destination,
                                             console.form.get("reason"))
        else:
            await failures.resume_destination(console.caller, destination)
    except (NotFound, InvalidInput) as exc:
        # Not a destination the outbox knows, or a reason too long: the section, saying why
        # (its own name: the full page also holds the webhook section, which shows ``error``).
        report = await failures.report(console.caller)
        context = _context(report, destination_error=error_text(console.request, exc))
        if console.is_htmx:  # htmx swaps only 2xx answers
            return console.render("partials/failures_destinations.html", context)
        status = 404 if isinstance(exc, NotFound) else 400
        return console.render("failures.html", context, status_code=status)
    return await _answer(console, "failures_destinations.html",
                         notice_key="failures.paused" if pause else "failures.resumed",
                         notice_destination=destination)


PAGES = [
    Page("/failures", failures_page, "failures", nav_key="nav.failures", order=30),
    Page("/failures/outbox/replay", replay_dead_letters, "failures-outbox-replay",
         methods=("POST",)),
    Page("/failures/deliveries/replay", replay_deliveries, "failures-deliveries-replay",
         methods=("POST",)),
    Page("/failures/endpoints/switch", switch_endpoint, "failures-endpoint-switch",
         methods=("POST",)),
    Page("/failures/destinations/switch", switch_destination, "failures-destination-switch",
         methods=("POST",)),
]
