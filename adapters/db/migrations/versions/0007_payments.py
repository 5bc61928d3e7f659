"""Payments and payouts with their transition history.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("phone_e164", sa.String(20), nullable=True),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("attempt_key", sa.String(36), nullable=False),
        sa.Column("callback_token_hash", sa.String(64), nullable=False),
        sa.Column("provider_reference", sa.String(255), nullable=True),
        sa.Column("provider_transaction_id", sa.String(255), nullable=True),
        sa.Column("provider_secret_hash", sa.String(64), nullable=True),
        sa.Column("redirect_url", sa.String(2000), nullable=True),
        sa.Column("failure_reason", sa.String(500), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("next_check_at", UTCDateTime(), nullable=True),
        sa.Column("checks", sa.Integer, nullable=False),
        sa.Column("initiated", sa.Boolean, nullable=False),
        sa.UniqueConstraint("created_by", "idempotency_key", name="uq_payments_idempotency"),
        sa.UniqueConstraint("provider", "provider_reference",
                            name="uq_payments_provider_reference"),
        sa.UniqueConstraint("callback_token_hash", name="uq_payments_callback_token"),
    )
    op.create_index("ix_payments_patient", "payments", ["patient_id", "id"])
    op.create_index("ix_payments_due", "payments", ["next_check_at"])
    op.create_index("ix_payments_reference", "payments", ["reference"])
    op.create_table(
        "payment_transitions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("payment_id", sa.String(36), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_payment_transitions_payment", "payment_transitions",
                    ["payment_id", "id"])


def downgrade() -> None:
    op.drop_table("payment_transitions")
    op.drop_table("payments")
