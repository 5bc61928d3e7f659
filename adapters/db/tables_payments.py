"""SQLModel tables of payments and their transition history (migration 0007; keep in sync)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from adapters.db.types import UTCDateTime


def _ts(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class PaymentRow(SQLModel, table=True):
    """A collection or payout. Idempotency keys are scoped to the caller who created it."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("created_by", "idempotency_key", name="uq_payments_idempotency"),
        UniqueConstraint("provider", "provider_reference", name="uq_payments_provider_reference"),
        UniqueConstraint("callback_token_hash", name="uq_payments_callback_token"),
        Index("ix_payments_patient", "patient_id", "id"),
        Index("ix_payments_due", "next_check_at"),
        Index("ix_payments_reference", "reference"),
    )

    id: str = Field(primary_key=True, max_length=36)
    provider: str = Field(max_length=32)
    direction: str = Field(max_length=16)
    amount_minor: int = Field(sa_column=Column(BigInteger(), nullable=False))
    currency: str = Field(max_length=3)
    phone_e164: str | None = Field(default=None, max_length=20)
    reference: str = Field(max_length=64)
    description: str = Field(default="", max_length=200)
    patient_id: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)
    idempotency_key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    attempt_key: str = Field(max_length=36)
    callback_token_hash: str = Field(max_length=64)
    provider_reference: str | None = Field(default=None, max_length=255)
    provider_transaction_id: str | None = Field(default=None, max_length=255)
    provider_secret_hash: str | None = Field(default=None, max_length=64)
    redirect_url: str | None = Field(default=None, max_length=2000)
    failure_reason: str | None = Field(default=None, max_length=500)
    created_by: str = Field(max_length=200)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    expires_at: datetime = _ts()
    next_check_at: datetime | None = _ts(nullable=True)
    checks: int = 0
    initiated: bool = False
    # What Stripe reports refunded (charge.refunded / refund events; migration 0008).
    refunded_minor: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False,
                                                            server_default="0"))


class PaymentTransitionRow(SQLModel, table=True):
    """One status change of a payment: from, to, why, who caused it (source), when."""

    __tablename__ = "payment_transitions"
    __table_args__ = (Index("ix_payment_transitions_payment", "payment_id", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    payment_id: str = Field(max_length=36)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    reason: str = Field(max_length=500)
    source: str = Field(max_length=16)
    at: datetime = _ts()
