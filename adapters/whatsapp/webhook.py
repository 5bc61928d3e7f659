"""WhatsApp webhooks: the GET verification handshake, and POSTs verified on the raw body.

``X-Hub-Signature-256`` is ``sha256=`` + hex HMAC-SHA256 of the exact bytes Meta sent, keyed
with the App Secret (providers.md section 7); compared in constant time before the body is
parsed. One POST carries many items (entries, changes, messages, statuses): each becomes one
inbox event, deduplicated on the message's wamid (inbound) or on (wamid, status) (statuses),
the keys Meta's retries repeat.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from adapters.webhooks._common import json_object
from resolvers.webhooks.errors import MalformedDelivery, SignatureRejected
from resolvers.webhooks.model import InboundEvent

PROVIDER = "whatsapp"
MESSAGE_EVENT = "message"
STATUS_EVENT = "status"
MAX_ID = 180  # the inbox's event id column keeps 200


def signature_of(raw: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()


class WhatsAppWebhook:
    def __init__(self, app_secret: str, verify_token: str) -> None:
        self._secret = app_secret
        self._verify_token = verify_token

    def handshake(self, params: Mapping[str, str]) -> str | None:
        """The challenge to echo, or None (403) when the mode or token does not match."""
        if not self._verify_token or params.get("hub.mode") != "subscribe":
            return None
        given = params.get("hub.verify_token", "")
        if not hmac.compare_digest(given.encode(), self._verify_token.encode()):
            return None
        return params.get("hub.challenge", "")

    def verify(self, raw: bytes, headers: Mapping[str, str]) -> list[InboundEvent]:
        header = headers.get("x-hub-signature-256", "").strip()
        if not header:
            raise SignatureRejected("X-Hub-Signature-256 is missing", reason="missing")
        if not hmac.compare_digest(header.lower().encode(),
                                   signature_of(raw, self._secret).encode()):
            raise SignatureRejected("X-Hub-Signature-256 does not match the body",
                                    reason="bad_signature")
        body = json_object(raw)
        if body.get("object") != "whatsapp_business_account":
            raise MalformedDelivery("not a whatsapp_business_account notification")
        return events_of(body)


def events_of(body: Mapping[str, Any]) -> list[InboundEvent]:
    """One inbox event per inbound message and per status, each with its change's metadata."""
    events: list[InboundEvent] = []
    for entry in _dicts(body.get("entry")):
        for change in _dicts(entry.get("changes")):
            if change.get("field") != "messages":
                continue
            value = _dict(change.get("value"))
            metadata = _dict(value.get("metadata"))
            for message in _dicts(value.get("messages")):
                wamid = _text(message.get("id"))
                if not wamid:
                    raise MalformedDelivery("an inbound message without an id")
                events.append(InboundEvent(
                    provider=PROVIDER, event_id=wamid[:MAX_ID], event_type=MESSAGE_EVENT,
                    payload={"message": message, "metadata": metadata}))
            for status in _dicts(value.get("statuses")):
                wamid, state = _text(status.get("id")), _text(status.get("status"))
                if not wamid or not state:
                    raise MalformedDelivery("a status without an id or a status")
                events.append(InboundEvent(
                    provider=PROVIDER, event_id=f"{wamid[:MAX_ID]}:{state[:16]}",
                    event_type=STATUS_EVENT, payload={"status": status, "metadata": metadata}))
    return events


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
