"""An in-memory PaymentProvider for fast use-case and API tests (no HTTP).

Callback bodies are tiny JSON documents:
``{"ref": ..., "state": ..., "event_id": ..., "amount": ..., "payer": ..., "notif_token": ...}``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from resolvers.payments.providers import (
    CallbackNotice,
    CollectionRequest,
    PayoutRequest,
    ProviderAck,
    ProviderRejected,
    ProviderStatus,
    ProviderUnavailable,
)


@dataclass
class FakeProvider:
    name: str = "mpesa"
    currencies: frozenset[str] = frozenset({"KES"})
    # What the next initiate call does: "ack", "reject", "down" (not sent), "lost" (sent).
    next_outcome: str = "ack"
    collections: list[CollectionRequest] = field(default_factory=list)
    payouts: list[PayoutRequest] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    payout_queries: list[PayoutRequest] = field(default_factory=list)  # with result URLs
    statuses: dict[str, ProviderStatus] = field(default_factory=dict)  # by reference
    notif_token: str | None = None

    def _outcome(self, attempt_key: str) -> ProviderAck:
        outcome, self.next_outcome = self.next_outcome, "ack"
        if outcome == "reject":
            raise ProviderRejected("400.002.02", "Bad Request - Invalid PhoneNumber")
        if outcome == "down":
            raise ProviderUnavailable("connection refused", request_sent=False)
        if outcome == "lost":
            raise ProviderUnavailable("read timeout", request_sent=True)
        reference = attempt_key if self.name == "mtn_momo" else f"ws_CO_{uuid.uuid4().hex[:12]}"
        extra = {"notif_token": self.notif_token} if self.notif_token else {}
        return ProviderAck(provider_reference=reference,
                           redirect_url="https://pay.example/x" if self.notif_token else None,
                           extra=extra)

    async def initiate_collection(self, request: CollectionRequest) -> ProviderAck:
        self.collections.append(request)
        return self._outcome(request.attempt_key)

    async def query_collection(self, provider_reference: str,
                               request: CollectionRequest) -> ProviderStatus:
        self.queries.append(provider_reference)
        return self.statuses.get(provider_reference, ProviderStatus(state="pending"))

    async def initiate_payout(self, request: PayoutRequest) -> ProviderAck:
        self.payouts.append(request)
        return self._outcome(request.attempt_key)

    async def query_payout(self, provider_reference: str, request: PayoutRequest) -> ProviderStatus:
        self.queries.append(provider_reference)
        self.payout_queries.append(request)
        return self.statuses.get(provider_reference, ProviderStatus(state="unknown"))

    def parse_callback(self, body: bytes, *, kind: str = "collection") -> CallbackNotice:
        try:
            data: Any = json.loads(body)
            return CallbackNotice(
                provider_reference=data.get("ref"), claimed_state=data["state"],
                event_id=str(data["event_id"]), kind=kind,  # type: ignore[arg-type]
                notif_token=data.get("notif_token"),
                claimed_amount_minor=data.get("amount"), claimed_payer_e164=data.get("payer"),
                attempt_key=data.get("attempt_key"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a fake callback: {exc}") from None


def succeeded(amount: int, payer: str | None = None, txn: str = "TXN1") -> ProviderStatus:
    return ProviderStatus(state="succeeded", amount_minor=amount, currency=None,
                          payer_e164=payer, provider_transaction_id=txn)


# ---------------------------------------------------------------- helpers for the API tests

PAYMENT_BODY: dict[str, Any] = {"provider": "mpesa", "amount": 150000, "currency": "KES",
                                "phone": "0712345678", "reference": "INV-1"}


def token_of(callback_url: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(callback_url).query)["token"][0]
