"""The message log's refused messages: what intake refused before storing anything (an HL7
message that does not parse, or is not an ORU^R01; a webhook whose signature failed), with
the reason and the answer the sender got.

Bounded by the writer (resolvers/operations/messages/refusals.py): HL7 bodies are kept up to
64 KiB, webhook bodies (unauthenticated input) only as a 512-byte prefix; the whole body's
size and SHA-256 are kept either way; a per-minute cap, a retention and a row ceiling prune.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refused_messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("channel", sa.String(48), nullable=False),
        sa.Column("sender", sa.String(255), nullable=True),
        sa.Column("control_id", sa.String(255), nullable=True),
        sa.Column("message_type", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("answer", sa.String(48), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_truncated", sa.Boolean(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    # The log's newest-first keyset pages, and the retention's range delete.
    op.create_index("ix_refused_messages_received", "refused_messages", ["received_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_refused_messages_received", table_name="refused_messages")
    op.drop_table("refused_messages")
