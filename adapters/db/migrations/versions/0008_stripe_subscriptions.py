"""Stripe refunds and subscriptions; the refunded amount of a payment.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("refunded_minor", sa.BigInteger, nullable=False,
                                   server_default="0"))
    op.create_table(
        "stripe_refunds",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("payment_id", sa.String(36), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("stripe_idempotency_key", sa.String(255), nullable=False),
        sa.Column("stripe_refund_id", sa.String(255), nullable=True),
        sa.Column("failure_reason", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("created_by", "idempotency_key", name="uq_stripe_refunds_idempotency"),
        sa.UniqueConstraint("stripe_refund_id", name="uq_stripe_refunds_stripe_id"),
    )
    op.create_index("ix_stripe_refunds_payment", "stripe_refunds", ["payment_id", "id"])
    op.create_table(
        "stripe_subscriptions",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("customer_id", sa.String(255), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("price_id", sa.String(255), nullable=True),
        sa.Column("current_period_end", UTCDateTime(), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean, nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("last_event_id", sa.String(255), nullable=False),
        sa.Column("last_event_type", sa.String(64), nullable=False),
        sa.Column("last_event_created", sa.BigInteger, nullable=False),
        sa.Column("last_event_rank", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_stripe_subscriptions_patient", "stripe_subscriptions",
                    ["patient_id", "id"])
    op.create_index("ix_stripe_subscriptions_status", "stripe_subscriptions", ["status", "id"])


def downgrade() -> None:
    op.drop_table("stripe_subscriptions")
    op.drop_table("stripe_refunds")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("refunded_minor")
