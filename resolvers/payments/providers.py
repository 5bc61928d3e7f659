"""The port every payment provider adapter implements; results normalised into one shape.

Adapters live in ``adapters/payments/`` (``mpesa``, ``mtn_momo``, ``orange_money``);
``adapters.payments.registry.build_payment_providers`` builds the configured ones.

Provider specifics the domain needs to know:

- A ``ProviderAck`` is only the provider's synchronous acceptance, never a payment.
- A ``CallbackNotice`` is what an unsigned callback *claims*; the payment changes state only
  when ``query_collection`` / ``query_payout`` (authenticated) agrees.
- M-Pesa STK query confirms the result code for a CheckoutRequestID but returns neither the
  amount nor the payer: ``ProviderStatus.amount_minor``/``payer_e164`` are ``None`` there, and
  the callback's ``claimed_amount_minor``/``claimed_payer_e164`` are the only figures to compare
  with our record.
- M-Pesa payouts (B2C) have no synchronous status: ``query_payout`` returns ``"unknown"``
  (after asking Daraja's Transaction Status API, whose answer arrives at the ResultURL) until
  the result callback is known. A queue timeout (``kind="payout_timeout"``) means the outcome is
  unknown: query, never resend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

ProviderState = Literal["pending", "succeeded", "failed", "cancelled", "expired", "unknown"]


@dataclass(frozen=True)
class CollectionRequest:
    payment_id: str  # our payment id
    attempt_key: str  # uuid4 persisted before the call; MoMo X-Reference-Id, Orange order_id; reused on retry
    amount_minor: int  # ISO 4217 minor units
    currency: str
    phone_e164: str | None  # "+254712345678"
    reference: str  # our/merchant reference (e.g. "INV-1")
    description: str
    callback_url: str  # absolute URL carrying the payment's unguessable token


@dataclass(frozen=True)
class PayoutRequest:
    payout_id: str
    attempt_key: str  # M-Pesa OriginatorConversationID, MoMo X-Reference-Id
    amount_minor: int
    currency: str
    phone_e164: str
    reference: str
    description: str
    result_url: str  # M-Pesa ResultURL / MoMo callback
    timeout_url: str  # M-Pesa QueueTimeOutURL


@dataclass(frozen=True)
class ProviderAck:  # synchronous acceptance: NOT a payment
    # M-Pesa CheckoutRequestID / ConversationID, MoMo X-Reference-Id, Orange pay_token
    provider_reference: str
    redirect_url: str | None = None  # Orange payment_url
    extra: Mapping[str, str] = field(default_factory=dict)  # e.g. {"notif_token": ...} for Orange


@dataclass(frozen=True)
class ProviderStatus:  # the authenticated status query, normalised
    state: ProviderState
    amount_minor: int | None = None
    currency: str | None = None
    payer_e164: str | None = None
    provider_transaction_id: str | None = None  # MpesaReceiptNumber, financialTransactionId, txnid
    reason: str | None = None  # provider code + text for failures


@dataclass(frozen=True)
class CallbackNotice:  # what an (unsigned) callback body claims; never trusted alone
    provider_reference: str | None
    claimed_state: ProviderState
    event_id: str  # dedupe key for the inbox
    kind: Literal["collection", "payout", "payout_timeout"] = "collection"
    notif_token: str | None = None  # Orange
    # Extensions (optional, defaulted): what the body claims beyond the state. Supporting
    # information only; M-Pesa's STK query does not return these, so the domain compares them
    # with its own record.
    claimed_amount_minor: int | None = None
    claimed_currency: str | None = None
    claimed_payer_e164: str | None = None
    provider_transaction_id: str | None = None  # MpesaReceiptNumber, TransactionID, txnid, ...
    attempt_key: str | None = None  # M-Pesa OriginatorConversationID, Orange order_id when present
    reason: str | None = None  # provider code + text for failures


class ProviderRejected(Exception):
    """The provider refused the request for good (bad field, wrong currency, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ProviderUnavailable(Exception):
    """Transient failure or unknown outcome (timeout, 5xx, 429): retry or query later; never resend money."""

    def __init__(self, message: str, *, request_sent: bool) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class PaymentProvider(Protocol):
    name: str  # "mpesa" | "mtn_momo" | "orange_money"
    currencies: frozenset[str]  # currencies this configured provider accepts

    async def initiate_collection(self, request: CollectionRequest) -> ProviderAck: ...

    async def query_collection(
        self, provider_reference: str, request: CollectionRequest
    ) -> ProviderStatus: ...

    async def initiate_payout(self, request: PayoutRequest) -> ProviderAck:
        """Raise ``ProviderRejected("unsupported", ...)`` if the provider has no payouts."""
        ...

    async def query_payout(self, provider_reference: str, request: PayoutRequest) -> ProviderStatus: ...

    def parse_callback(self, body: bytes, *, kind: str = "collection") -> CallbackNotice:
        """Parse what a callback claims; raise ``ValueError`` on a malformed body."""
        ...
