"""MPI matcher: match records, blocking keys, Fellegi-Sunter parameters.

Frozen: it creates the tables only. The index is derived data, built by the gateway's own
rules (adapters.db.match_index.index_missing, at start) for any patient without a match
record, so this migration never runs today's matcher code.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import JsonDocument, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mpi_match_records",
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("record", JsonDocument, nullable=False),
    )
    op.create_table(
        "mpi_blocking_keys",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("patient_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_mpi_blocking_keys_patient", "mpi_blocking_keys", ["patient_id"])
    op.create_table(
        "mpi_match_parameters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("document", JsonDocument, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mpi_match_parameters")
    op.drop_index("ix_mpi_blocking_keys_patient", table_name="mpi_blocking_keys")
    op.drop_table("mpi_blocking_keys")
    op.drop_table("mpi_match_records")
