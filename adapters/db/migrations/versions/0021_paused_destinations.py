"""Paused outbox destinations: an operator's switch per destination (Medplum mirror, DHIS2,
PACS, ...). The outbox worker's claim skips the rows of a paused destination; they stay
pending, their attempts untouched, until it is resumed. A handful of rows at most, so no
index beyond the primary key.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_paused_destinations",
        sa.Column("destination", sa.String(64), primary_key=True),
        sa.Column("paused_at", UTCDateTime(), nullable=False),
        sa.Column("paused_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("outbox_paused_destinations")
