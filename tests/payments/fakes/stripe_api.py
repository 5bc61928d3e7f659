"""A contract-faithful fake of Stripe's Refund API, and signed webhook events for the gateway.

``POST /v1/refunds`` as Stripe takes it: form-encoded (``metadata[k]=v``),
``Authorization: Bearer sk_test_...`` (anything else: 401 in Stripe's error shape), and
``Idempotency-Key`` honoured (the same key with the same parameters answers the first result
with ``Idempotent-Replayed: true``; with other parameters a 400 ``idempotency_error``).
Refusals in Stripe's shape ``{"error": {"type", "code", "message", "param"}}``:
``charge_already_refunded``, ``amount_too_large``, ``resource_missing``. Knobs from
:class:`FakeProvider`: ``fail(path, status)`` answers an error before processing (an outage:
nothing is stored for the key), ``slow(path, seconds)``.

Webhooks: :meth:`FakeStripe.signed` builds an event and signs it with
``stripe.WebhookSignature.generate_signature_header`` (the official SDK; never a hand-made
signature); :meth:`charge_refunded_event` and :meth:`refund_event` build the objects Stripe
sends for a charge and a refund.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.payments.fakes.base import FakeProvider

API_KEY = "sk_test_cari_fake_0123456789"
REFUNDS = "/v1/refunds"


def stripe_error(status: int, type_: str, message: str, code: str | None = None,
                 param: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": type_, "code": code, "message": message,
                                   "param": param}}, status_code=status,
                        headers={"Request-Id": f"req_{secrets.token_hex(7)}"})


@dataclass
class Charge:
    id: str
    payment_intent: str
    amount: int
    currency: str
    refunds: list[dict[str, Any]] = field(default_factory=list)

    @property
    def amount_refunded(self) -> int:
        return sum(r["amount"] for r in self.refunds if r["status"] in ("pending", "succeeded"))


@dataclass
class FakeStripe(FakeProvider):
    api_key: str = API_KEY
    refund_status: str = "succeeded"  # what a new refund is (cards: succeeded at once)
    charges: dict[str, Charge] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)

    def error_body(self, status: int) -> Any:
        return {"error": {"type": "api_error", "code": None, "param": None,
                          "message": "An unknown error occurred (fake outage)."}}

    # ------------------------------------------------------------------ state

    def add_charge(self, payment_intent: str, amount: int, currency: str = "usd") -> Charge:
        charge = Charge(f"ch_{secrets.token_hex(8)}", payment_intent, amount, currency.lower())
        self.charges[charge.id] = charge
        return charge

    def charge_of(self, payment_intent: str) -> Charge | None:
        return next((c for c in self.charges.values() if c.payment_intent == payment_intent), None)

    # ------------------------------------------------------------------ API

    async def create_refund(self, request: Request) -> Response:
        _, fault = await self.gate(request)
        if fault is not None:
            return fault
        if self.bearer(request) != self.api_key:
            return stripe_error(401, "invalid_request_error",
                                "Invalid API Key provided: sk_test_****")
        raw = (await request.body()).decode()
        params = dict(parse_qsl(raw, keep_blank_values=True))
        digest = json.dumps(sorted(params.items()))
        key = request.headers.get("idempotency-key")
        if key and key in self.idempotent:
            first_digest, status, body = self.idempotent[key]
            if first_digest != digest:
                return stripe_error(
                    400, "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you "
                    "meant to execute a different request.")
            lost = self.after_fault(request)  # the answer is lost again
            return lost or JSONResponse(body, status_code=status,
                                        headers={"Idempotent-Replayed": "true"})
        status, body = self._refund(params)
        if key:
            self.idempotent[key] = (digest, status, body)
        # fail_after: the refund is made, its answer lost (Stripe replays it for the key).
        return self.after_fault(request) or JSONResponse(body, status_code=status)

    def _refund(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        charge = (self.charges.get(params.get("charge", "")) if "charge" in params
                  else self.charge_of(params.get("payment_intent", "")))
        if charge is None:
            param = "charge" if "charge" in params else "payment_intent"
            return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                   "param": param, "message": f"No such {param}: "
                                   f"'{params.get(param, '')}'"}}
        left = charge.amount - charge.amount_refunded
        if left <= 0:
            return 400, {"error": {"type": "invalid_request_error",
                                   "code": "charge_already_refunded", "param": None,
                                   "message": f"Charge {charge.id} has already been refunded."}}
        amount = int(params.get("amount") or left)
        if amount > left:
            return 400, {"error": {"type": "invalid_request_error", "code": "amount_too_large",
                                   "param": "amount",
                                   "message": f"Refund amount ({amount}) is greater than "
                                   f"unrefunded amount on charge ({left})"}}
        metadata = {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")}
        refund = {"id": f"re_{secrets.token_hex(8)}", "object": "refund", "amount": amount,
                  "charge": charge.id, "payment_intent": charge.payment_intent,
                  "currency": charge.currency, "status": self.refund_status,
                  "reason": params.get("reason"), "metadata": metadata,
                  "created": int(time.time())}
        charge.refunds.append(refund)
        self.refunds[refund["id"]] = refund
        return 200, refund

    def app(self) -> Starlette:
        return Starlette(routes=[Route(REFUNDS, self.create_refund, methods=["POST"])])

    # ------------------------------------------------------------------ webhooks

    def charge_refunded_event(self, charge: Charge, *, with_refunds: bool = True) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": charge.id, "object": "charge", "amount": charge.amount,
            "amount_refunded": charge.amount_refunded, "currency": charge.currency,
            "payment_intent": charge.payment_intent, "paid": True,
            "refunded": charge.amount_refunded >= charge.amount}
        if with_refunds:
            obj["refunds"] = {"object": "list", "data": list(charge.refunds)}
        return obj

    @staticmethod
    def signed(secret: str, event_type: str, obj: dict[str, Any], *,
               created: int | None = None, event_id: str | None = None
               ) -> tuple[bytes, dict[str, str]]:
        """An event as Stripe delivers it, signed by the official SDK."""
        raw = json.dumps({"id": event_id or f"evt_{secrets.token_hex(8)}", "object": "event",
                          "type": event_type, "created": created or int(time.time()),
                          "livemode": False, "api_version": "2024-06-20",
                          "data": {"object": obj}}).encode()
        header = stripe.WebhookSignature.generate_signature_header(raw.decode(), secret)
        return raw, {"Stripe-Signature": header, "Content-Type": "application/json"}

    async def emit(self, url: str, secret: str, event_type: str, obj: dict[str, Any],
                   **kwargs: Any) -> int:
        """Deliver a signed event to a gateway listening at ``url``; its HTTP status."""
        raw, headers = self.signed(secret, event_type, obj, **kwargs)
        async with httpx.AsyncClient(timeout=10.0) as client:
            return (await client.post(url, content=raw, headers=headers)).status_code
