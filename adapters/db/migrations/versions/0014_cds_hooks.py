"""CDS Hooks: the cards issued (so feedback can be checked against them), the feedback
received, and the client JWT ids already used (replay refusal across processes).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import JsonDocument, UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cds_cards",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("hook", sa.String(64), nullable=False),
        sa.Column("hook_instance", sa.String(200), nullable=False),
        sa.Column("patient_id", sa.String(200), nullable=True),
        sa.Column("suggestions", JsonDocument, nullable=False),
        sa.Column("override_reasons", JsonDocument, nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_cds_cards_expires", "cds_cards", ["expires_at"])
    op.create_table(
        "cds_feedback",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("card_uuid", sa.String(36), nullable=False),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("patient_id", sa.String(200), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accepted_suggestions", JsonDocument, nullable=True),
        sa.Column("override_reason", JsonDocument, nullable=True),
        sa.Column("outcome_timestamp", UTCDateTime(), nullable=False),
        sa.Column("received_by", sa.String(200), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_cds_feedback_card", "cds_feedback", ["card_uuid"])
    op.create_table(
        "cds_jwt_ids",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_cds_jwt_ids_expires", "cds_jwt_ids", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_cds_jwt_ids_expires", table_name="cds_jwt_ids")
    op.drop_table("cds_jwt_ids")
    op.drop_index("ix_cds_feedback_card", table_name="cds_feedback")
    op.drop_table("cds_feedback")
    op.drop_index("ix_cds_cards_expires", table_name="cds_cards")
    op.drop_table("cds_cards")
