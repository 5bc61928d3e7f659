"""SQLModel tables of Stripe refunds and subscriptions (migration 0008; keep in sync)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from adapters.db.types import UTCDateTime


def _ts(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class StripeRefundRow(SQLModel, table=True):
    """A refund asked of Stripe (recorded before the call) or learnt from its events."""

    __tablename__ = "stripe_refunds"
    __table_args__ = (
        UniqueConstraint("created_by", "idempotency_key", name="uq_stripe_refunds_idempotency"),
        UniqueConstraint("stripe_refund_id", name="uq_stripe_refunds_stripe_id"),
        Index("ix_stripe_refunds_payment", "payment_id", "id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    payment_id: str = Field(max_length=36)
    amount_minor: int = Field(sa_column=Column(BigInteger(), nullable=False))
    currency: str = Field(max_length=3)
    reason: str | None = Field(default=None, max_length=32)
    status: str = Field(max_length=16)
    created_by: str = Field(max_length=200)
    idempotency_key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    stripe_idempotency_key: str = Field(max_length=255)
    stripe_refund_id: str | None = Field(default=None, max_length=255)
    failure_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class StripeSubscriptionRow(SQLModel, table=True):
    """The newest known state of a Stripe subscription (by ``event.created``, then rank)."""

    __tablename__ = "stripe_subscriptions"
    __table_args__ = (
        Index("ix_stripe_subscriptions_patient", "patient_id", "id"),
        Index("ix_stripe_subscriptions_status", "status", "id"),
    )

    id: str = Field(primary_key=True, max_length=255)
    customer_id: str | None = Field(default=None, max_length=255)
    status: str = Field(max_length=32)
    price_id: str | None = Field(default=None, max_length=255)
    current_period_end: datetime | None = _ts(nullable=True)
    cancel_at_period_end: bool = False
    patient_id: str | None = Field(default=None, max_length=64)
    last_event_id: str = Field(max_length=255)
    last_event_type: str = Field(max_length=64)
    last_event_created: int = Field(sa_column=Column(BigInteger(), nullable=False))
    last_event_rank: int = 0
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
