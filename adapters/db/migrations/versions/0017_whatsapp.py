"""WhatsApp patient messaging: templates, consent (current and history), the 24-hour
windows and scheduled messages with their statuses.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import JsonDocument, UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "whatsapp_templates",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("body", sa.String(4096), nullable=False),
        sa.Column("header", sa.String(1024), nullable=True),
        sa.Column("buttons", JsonDocument, nullable=False),
        sa.Column("body_params", sa.Integer, nullable=False),
        sa.Column("header_params", sa.Integer, nullable=False),
        sa.Column("synced_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("name", "language", name="uq_whatsapp_templates_name"),
    )
    op.create_table(
        "whatsapp_consents",
        sa.Column("phone", sa.String(20), primary_key=True),
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "whatsapp_consent_events",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_whatsapp_consent_events_phone", "whatsapp_consent_events",
                    ["phone", "at"])
    op.create_table(
        "whatsapp_windows",
        sa.Column("phone", sa.String(20), primary_key=True),
        sa.Column("last_inbound_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "whatsapp_messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("template_name", sa.String(512), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("content", JsonDocument, nullable=False),
        sa.Column("requires_consent", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("error_code", sa.Integer, nullable=True),
        sa.Column("send_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claim_token", sa.String(36), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("wamid", sa.String(128), nullable=True),
        sa.Column("status_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("key", name="uq_whatsapp_messages_key"),
        sa.UniqueConstraint("wamid", name="uq_whatsapp_messages_wamid"),
    )
    op.create_index("ix_whatsapp_messages_due", "whatsapp_messages",
                    ["status", "next_attempt_at"])
    op.create_index("ix_whatsapp_messages_patient", "whatsapp_messages", ["patient_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_whatsapp_messages_patient", table_name="whatsapp_messages")
    op.drop_index("ix_whatsapp_messages_due", table_name="whatsapp_messages")
    op.drop_table("whatsapp_messages")
    op.drop_table("whatsapp_windows")
    op.drop_index("ix_whatsapp_consent_events_phone", table_name="whatsapp_consent_events")
    op.drop_table("whatsapp_consent_events")
    op.drop_table("whatsapp_consents")
    op.drop_table("whatsapp_templates")
