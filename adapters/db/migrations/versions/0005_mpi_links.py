"""MPI links: each attachment of a lab result to a patient, with its score per field; undoable.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import JsonDocument, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mpi_links",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("lab_result_id", sa.String(36), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("grade", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("field_scores", JsonDocument, nullable=False),
        sa.Column("review_task_id", sa.String(36), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("undone_at", UTCDateTime(), nullable=True),
        sa.Column("undone_by", sa.String(200), nullable=True),
        sa.Column("undo_reason", sa.String(500), nullable=True),
    )
    op.create_index("ix_mpi_links_lab_result_id", "mpi_links", ["lab_result_id"])
    op.create_index("ix_mpi_links_patient", "mpi_links", ["patient_id", "created_at"])


def downgrade() -> None:
    op.drop_table("mpi_links")
