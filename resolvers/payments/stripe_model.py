"""Stripe refunds and subscriptions: the records, the storage port and the refund API port.

A refund is recorded (``requested``, with the Stripe idempotency key) BEFORE Stripe is called;
Stripe's answer makes it ``pending`` (accepted, awaiting its signed events) or ``failed``;
only signed events (``refund.*``, ``charge.refunded``) make it ``succeeded``. A subscription
row mirrors the newest ``customer.subscription.*`` event applied (see ``SubscriptionStore``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class RefundStatus(StrEnum):
    REQUESTED = "requested"  # recorded; Stripe has not confirmed it (yet): retry with the same key
    PENDING = "pending"  # Stripe accepted it; its signed events decide the outcome
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # refused by Stripe, or failed later
    CANCELED = "canceled"


OPEN_REFUNDS = (RefundStatus.REQUESTED, RefundStatus.PENDING)
FINAL_REFUNDS = (RefundStatus.FAILED, RefundStatus.CANCELED)
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


@dataclass(frozen=True)
class Refund:
    id: str
    payment_id: str
    amount_minor: int
    currency: str
    reason: str | None
    status: RefundStatus
    created_by: str  # the caller, or "stripe" for a refund made outside the gateway
    idempotency_key: str  # the caller's key (scoped to created_by)
    request_hash: str
    stripe_idempotency_key: str  # sent to Stripe on every attempt: one refund however often
    stripe_refund_id: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


class DuplicateRefund(Exception):
    """(created_by, idempotency_key) or the Stripe refund id is already stored."""


@dataclass(frozen=True)
class StripeSubscription:
    id: str  # sub_...
    customer_id: str | None
    status: str  # Stripe's: trialing, active, past_due, paused, canceled, unpaid, incomplete...
    price_id: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    patient_id: str | None
    last_event_id: str
    last_event_type: str
    last_event_created: int  # unix seconds of the newest event applied
    last_event_rank: int  # tie-break within one second (see stripe_subscriptions.RANK)
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SubscriptionQuery:
    status: str | None = None
    patient_id: str | None = None
    after: str | None = None  # keyset cursor on the subscription id, ascending
    limit: int = 50


class StripeStore(Protocol):
    """Refunds and subscriptions (each call is its own transaction)."""

    async def add_refund(self, refund: Refund) -> None:
        """Insert; raise ``DuplicateRefund`` on (created_by, idempotency_key) or Stripe id."""
        ...

    async def refund_by_key(self, created_by: str, key: str) -> Refund | None: ...

    async def refund_by_stripe_id(self, stripe_refund_id: str) -> Refund | None: ...

    async def get_refund(self, refund_id: str) -> Refund | None: ...

    async def refunds_of(self, payment_ids: Sequence[str]) -> dict[str, list[Refund]]: ...

    async def update_refund(self, refund_id: str, changes: Mapping[str, Any],
                            expected: Sequence[RefundStatus] | None = None) -> bool:
        """Change a refund; with ``expected`` only while its status is one of them."""
        ...

    async def apply_subscription(self, subscription: StripeSubscription) -> bool:
        """Insert, or replace the stored row only if this event is newer (created, then rank)
        and does not revive a terminal status. True: applied."""
        ...

    async def get_subscription(self, subscription_id: str) -> StripeSubscription | None: ...

    async def search_subscriptions(self, query: SubscriptionQuery) -> list[StripeSubscription]: ...


@dataclass(frozen=True)
class RefundAck:
    stripe_refund_id: str
    status: str  # Stripe's refund status
    amount_minor: int


class StripeRefundApi(Protocol):
    async def create_refund(self, *, payment_intent: str | None, charge: str | None,
                            amount_minor: int, reason: str | None, idempotency_key: str,
                            metadata: Mapping[str, str]) -> RefundAck:
        """Raise ``ProviderRejected(code, message)`` (Stripe refused) or
        ``ProviderUnavailable(message, request_sent=...)``."""
        ...


@dataclass
class StripeApiHolder:
    """Stripe's API as the composition root built it (None: no key configured)."""

    api: StripeRefundApi | None = None
