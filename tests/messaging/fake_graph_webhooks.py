"""The webhook half of the fake Graph API (tests/messaging/fake_graph.py): payloads in Meta's
exact envelope, signed as Meta signs them (``X-Hub-Signature-256`` = ``sha256=`` + hex
HMAC-SHA256 of the raw body keyed with the app secret), and POSTed like Meta."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from typing import Any

import httpx

DISPLAY_NUMBER = "15550001234"


class WebhookPayloads:
    """Builds the webhooks of the fake whose sends and windows it reads (FakeGraph)."""

    app_secret: str
    phone_number_id: str
    waba_id: str
    clock: Callable[[], float]
    accepted: list[Any]

    def open_window(self, phone: str, at: float | None = None) -> None:
        raise NotImplementedError

    def envelope(self, value: dict[str, Any]) -> dict[str, Any]:
        return {"object": "whatsapp_business_account", "entry": [{
            "id": self.waba_id, "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": DISPLAY_NUMBER,
                             "phone_number_id": self.phone_number_id},
                **value}}]}]}

    def _inbound(self, phone: str, kind: str, content: dict[str, Any], *,
                 message_id: str | None = None, timestamp: float | None = None,
                 context_id: str | None = None, name: str = "Test User",
                 open_window: bool = True) -> dict[str, Any]:
        wa_id = _digits(phone)
        at = self.clock() if timestamp is None else timestamp
        if open_window:
            self.open_window(wa_id, at)
        message: dict[str, Any] = {"from": wa_id, "id": message_id or new_wamid(),
                                   "timestamp": str(int(at)), "type": kind, kind: content}
        if context_id:
            message["context"] = {"from": DISPLAY_NUMBER, "id": context_id}
        return self.envelope({"contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                              "messages": [message]})

    def inbound_text(self, phone: str, body: str, **kw: Any) -> dict[str, Any]:
        return self._inbound(phone, "text", {"body": body}, **kw)

    def button_reply(self, phone: str, payload: str, text: str, **kw: Any) -> dict[str, Any]:
        """A tap on a template's quick-reply button (type ``button``)."""
        return self._inbound(phone, "button", {"payload": payload, "text": text}, **kw)

    def interactive_reply(self, phone: str, reply_id: str, title: str,
                          **kw: Any) -> dict[str, Any]:
        return self._inbound(phone, "interactive", {
            "type": "button_reply", "button_reply": {"id": reply_id, "title": title}}, **kw)

    def status(self, wamid: str, status: str, *, recipient: str | None = None,
               timestamp: float | None = None, callback_data: str | None = None,
               errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        sent = next((a for a in self.accepted if a.wamid == wamid), None)
        item: dict[str, Any] = {
            "id": wamid, "status": status,
            "timestamp": str(int(self.clock() if timestamp is None else timestamp)),
            "recipient_id": recipient or (sent.to if sent else "0"),
            "pricing": {"billable": True, "pricing_model": "PMP", "category": "utility"}}
        data = callback_data if callback_data is not None else (
            sent.body.get("biz_opaque_callback_data") if sent else None)
        if data is not None:
            item["biz_opaque_callback_data"] = data
        if status == "failed":
            item["errors"] = errors or [{"code": 131026, "title": "Message undeliverable",
                                         "message": "Message undeliverable",
                                         "error_data": {"details": "Message undeliverable."}}]
        return self.envelope({"statuses": [item]})

    @staticmethod
    def merge(*payloads: dict[str, Any]) -> dict[str, Any]:
        """Several payloads' changes in one POST (Meta batches them)."""
        first: dict[str, Any] = json.loads(json.dumps(payloads[0]))
        for other in payloads[1:]:
            first["entry"][0]["changes"].extend(other["entry"][0]["changes"])
        return first

    def signed(self, payload: dict[str, Any] | bytes,
               secret: str | None = None) -> tuple[bytes, dict[str, str]]:
        # Meta escapes non-ASCII (\u00ca) and signs those exact bytes.
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return raw, {"Content-Type": "application/json",
                     "X-Hub-Signature-256": sign(raw, secret or self.app_secret)}

    async def deliver(self, url: str, payload: dict[str, Any] | bytes,
                      secret: str | None = None) -> httpx.Response:
        raw, headers = self.signed(payload, secret)
        async with httpx.AsyncClient(timeout=10.0) as client:
            return await client.post(url, content=raw, headers=headers)


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def new_wamid() -> str:
    return "wamid.HBgM" + secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")


def sign(raw: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
