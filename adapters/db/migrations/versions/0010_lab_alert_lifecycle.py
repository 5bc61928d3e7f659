"""Lab alerts: who acknowledged, delivery status, escalation, and a held result's candidates;
messages refused because their control id was reused for different content.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import JsonDocument, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lab_alerts") as batch:
        batch.add_column(sa.Column("acknowledged_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("delivery_status", sa.String(16), nullable=False,
                                   server_default="pending"))
        batch.add_column(sa.Column("escalation_level", sa.Integer, nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("escalated_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("candidates", JsonDocument, nullable=False,
                                   server_default="[]"))
    op.create_index("ix_lab_alerts_open", "lab_alerts", ["acknowledged_at", "escalation_level"])
    op.create_table(
        "lab_message_conflicts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("sending_facility", sa.String(200), nullable=False),
        sa.Column("control_id", sa.String(200), nullable=False),
        sa.Column("first_result_id", sa.String(36), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("received_by", sa.String(200), nullable=False),
        sa.Column("raw_message", sa.String(), nullable=False),
    )
    op.create_index("ix_lab_message_conflicts_message", "lab_message_conflicts",
                    ["sending_facility", "control_id"])


def downgrade() -> None:
    op.drop_table("lab_message_conflicts")
    op.drop_index("ix_lab_alerts_open", table_name="lab_alerts")
    with op.batch_alter_table("lab_alerts") as batch:
        for column in ("candidates", "escalated_at", "escalation_level", "delivery_status",
                       "acknowledged_by"):
            batch.drop_column(column)
