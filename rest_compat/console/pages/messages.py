"""Messages: the searchable log of inbound messages, and one message opened (masked; a
reveal is a POST with the CSRF token, audited by the use case)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from resolvers.errors import InvalidInput, NotFound
from resolvers.operations.messages.log import MessageQuery
from resolvers.operations.messages.records import (
    HL7_CHANNELS,
    HL7_STATUSES,
    REFUSED_CHANNEL,
    REFUSED_STATUS,
    WEBHOOK_STATUSES,
    MessageCursor,
)
from rest_compat.console.errors import error_text
from rest_compat.console.framework import ConsoleRequest, Page

PAGE_SIZE = 50
CHANNEL_CHOICES = ("hl7", *HL7_CHANNELS, REFUSED_CHANNEL, "webhook")
STATUS_CHOICES = (*HL7_STATUSES, REFUSED_STATUS, *WEBHOOK_STATUSES)


def _when(text: str) -> datetime | None:
    """A date or date-time from the filter form (UTC unless it names its zone)."""
    if not text.strip():
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"not a date or time: {text[:40]!r}", reason_code="messages.bad_time",
                           params={"text": text[:40]}) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _targets(console: ConsoleRequest, element: str) -> bool:
    """An htmx request that swaps only ``element`` (not a history restore, which htmx sends
    as an htmx request too and which needs the whole page)."""
    headers = console.request.headers
    return console.is_htmx and headers.get("hx-target") == element and (
        headers.get("hx-history-restore-request") != "true")


async def messages_page(console: ConsoleRequest) -> Response:
    params = console.request.query_params
    filters = {key: params.get(key, "").strip()[:200]
               for key in ("channel", "status", "sender", "control_id", "since", "until")}
    error = ""
    page = None
    try:
        after = params.get("after")
        query = MessageQuery(
            channel=filters["channel"] or None, status=filters["status"] or None,
            sender=filters["sender"] or None, control_id=filters["control_id"] or None,
            since=_when(filters["since"]), until=_when(filters["until"]),
            after=MessageCursor.decode(after) if after else None, limit=PAGE_SIZE)
        page = await console.services.message_log.search(console.caller, query)
    except InvalidInput as exc:
        error = error_text(console.request, exc)
    next_params = None
    if page is not None and page.next_cursor:
        next_params = {**{k: v for k, v in filters.items() if v}, "after": page.next_cursor}
    template = ("partials/message_rows.html" if _targets(console, "message-results")
                else "messages.html")
    return console.render(template, {
        "filters": filters, "page": page, "error": error, "next_params": next_params,
        "channels": CHANNEL_CHOICES, "statuses": STATUS_CHOICES})


async def message_page(console: ConsoleRequest) -> Response:
    message_id = console.request.path_params["message_id"]
    reveal = console.request.method == "POST"
    try:
        view = await console.services.message_log.open(console.caller, message_id,
                                                       reveal=reveal)
    except NotFound:
        return console.render("message.html", {"view": None, "message_id": message_id},
                              status_code=404)
    template = ("partials/message_body.html" if _targets(console, "message-body")
                else "message.html")
    return console.render(template, {"view": view, "message_id": message_id})


PAGES = [
    Page("/messages", messages_page, "messages", nav_key="nav.messages", order=20),
    Page("/messages/{message_id}", message_page, "message"),
    Page("/messages/{message_id}/reveal", message_page, "message-reveal", methods=("POST",)),
]
