"""Processing of stored WhatsApp webhook events (the inbox worker calls it, once per event).

- Inbound messages open or refresh the phone's 24-hour window. A text that is an opt-out
  keyword (STOP, ACHA, ARRÊT, ...: case and accents ignored) opts the phone out for every
  patient on it and is confirmed with a free-form reply inside the window it just opened; an
  opt-in keyword (START, ANZA, ...) opts it back in, confirmed the same way.
- A template button tap (``button.payload``) or an interactive reply
  (``interactive.button_reply.id``) is a :class:`QuickReply` for the handler registered for
  the payload's prefix (up to and including the first ':'); a handler that raises has the
  inbox retry the event.
- Statuses (sent, delivered, read, failed) move the message forward, never backwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from resolvers.errors import InvalidInput
from resolvers.messaging.events import consent_event, message_events
from resolvers.messaging.model import (
    ConsentState,
    InboundMessage,
    MessageStatus,
    MessagingConfig,
    Purpose,
    QuickReply,
    StatusUpdate,
)
from resolvers.messaging.ports import MessagingStore, QuickReplyHandler
from resolvers.messaging.rules import keyword, keyword_set, normalise_phone
from resolvers.messaging.scheduler import Scheduling
from resolvers.webhooks.model import IgnoredEvent, PermanentEventError, WebhookEvent

log = logging.getLogger("cari.messaging")
STATUSES = {"sent": MessageStatus.SENT, "delivered": MessageStatus.DELIVERED,
            "read": MessageStatus.READ, "failed": MessageStatus.FAILED}


class QuickReplies:
    """QuickReplyHandlers by payload prefix ("appointment:"); other capabilities register."""

    def __init__(self) -> None:
        self._handlers: dict[str, QuickReplyHandler] = {}

    def register(self, prefix: str, handler: QuickReplyHandler) -> None:
        if not prefix.endswith(":") or prefix.count(":") != 1:
            raise ValueError("a quick-reply prefix ends with its only ':' (appointment:)")
        self._handlers[prefix] = handler

    def handler_for(self, payload: str) -> QuickReplyHandler | None:
        prefix, colon, _ = payload.partition(":")
        return self._handlers.get(prefix + colon) if colon else None


class WhatsAppInbox:
    """The inbox's EventHandler for provider "whatsapp"."""

    def __init__(self, store: MessagingStore, scheduling: Scheduling, replies: QuickReplies,
                 config: MessagingConfig, now: Callable[[], datetime]) -> None:
        self._store = store
        self._now = now
        self._scheduling = scheduling
        self._replies = replies
        self._config = config
        self._opt_out = keyword_set(config.opt_out_keywords)
        self._opt_in = keyword_set(config.opt_in_keywords)

    async def __call__(self, event: WebhookEvent) -> None:
        payload = dict(event.payload)
        if event.event_type == "status":
            await self._status(payload.get("status"))
        elif event.event_type == "message":
            await self._message(parse_inbound(payload.get("message")))
        else:
            raise IgnoredEvent(f"no handling for WhatsApp {event.event_type!r} events")

    async def _status(self, item: Any) -> None:
        if not isinstance(item, dict) or item.get("status") not in STATUSES:
            raise IgnoredEvent("not a sent/delivered/read/failed status")
        errors = [e for e in item.get("errors") or () if isinstance(e, dict)]
        error = errors[0] if errors else {}
        code = error.get("code") if isinstance(error.get("code"), int) else None
        data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
        title = str(error.get("title") or error.get("message") or "")
        if details := str((data or {}).get("details") or ""):
            title = f"{title}: {details}" if title else details
        update = StatusUpdate(wamid=str(item.get("id")), status=STATUSES[item["status"]],
                              at=_epoch(item.get("timestamp")), error_code=code,
                              error_title=(f"{code}: {title}" if code else title) or None)
        applied = await self._store.apply_status(update, lambda m: message_events(m, m.updated_at)
                                                 if m.status is MessageStatus.FAILED else [])
        if applied is None:
            # Meta can report a status before our send's commit stored the wamid: the inbox
            # retries with backoff (a message sent by another system ends dead-lettered).
            raise LookupError("a status of a message not (yet) known to this gateway")

    async def _message(self, message: InboundMessage) -> None:
        await self._store.touch_window(message.phone, message.at)
        if message.reply_payload is not None:
            await self._quick_reply(message)
            return
        if message.kind != "text":
            return  # the window is what an image or a reaction changes
        word = keyword(message.text)
        if word in self._opt_out:
            await self._keyword(message, ConsentState.OPTED_OUT)
        elif word in self._opt_in:
            await self._keyword(message, ConsentState.OPTED_IN)

    async def _keyword(self, message: InboundMessage, state: ConsentState) -> None:
        patients = await self._store.consent_patients(message.phone)
        # Recorded when processed: Meta's timestamps are whole seconds, and the consent
        # history must keep the order in which the gateway applied the changes.
        now = self._now()
        await self._store.set_consent(
            message.phone, "", state, source="keyword", actor="whatsapp-keyword",
            at=now, events=[consent_event(patients, state, "keyword", now)])
        log.info("whatsapp consent changed by keyword", extra={"state": state.value})
        opted_out = state is ConsentState.OPTED_OUT
        # Keyed by the inbound wamid: a redelivered STOP is confirmed once.
        row = self._scheduling.text_row(
            key=f"whatsapp-keyword:{message.wamid}",
            purpose=Purpose.OPT_OUT_CONFIRMATION if opted_out else Purpose.OPT_IN_CONFIRMATION,
            phone=message.phone, patient_id=None,
            text=self._config.opt_out_confirmation if opted_out
            else self._config.opt_in_confirmation,
            created_by="whatsapp-keyword", requires_consent=False)
        await self._scheduling.store([row])

    async def _quick_reply(self, message: InboundMessage) -> None:
        payload = message.reply_payload or ""
        handler = self._replies.handler_for(payload)
        if handler is None:
            raise IgnoredEvent("no quick-reply handler for this payload's prefix")
        replied_to = (await self._store.by_wamid(message.context_wamid)
                      if message.context_wamid else None)
        await handler.on_quick_reply(QuickReply(
            inbound_message_id=message.wamid, phone=message.phone, payload=payload,
            text=message.text, replied_to_key=replied_to.key if replied_to else None,
            received_at=message.at))


def parse_inbound(item: Any) -> InboundMessage:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise PermanentEventError("an inbound message without an id")
    try:
        phone = normalise_phone("+" + str(item.get("from", "")).lstrip("+"))
    except InvalidInput:
        raise PermanentEventError("an inbound message from an unreadable number") from None
    kind = str(item.get("type") or "unsupported")
    text, payload = "", None
    if kind == "text":
        text = str(_get(item, "text", "body") or "")
    elif kind == "button":
        payload = _str(_get(item, "button", "payload"))
        text = str(_get(item, "button", "text") or "")
    elif kind == "interactive":
        reply = _get(item, "interactive", "button_reply") or _get(item, "interactive",
                                                                  "list_reply")
        if isinstance(reply, dict):
            payload, text = _str(reply.get("id")), str(reply.get("title") or "")
    context = _str(_get(item, "context", "id"))
    return InboundMessage(wamid=item["id"], phone=phone, kind=kind, at=_epoch(
        item.get("timestamp")), text=text, reply_payload=payload, context_wamid=context)


def _get(item: Mapping[str, Any], *path: str) -> Any:
    value: Any = item
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _epoch(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(str(value)), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)
