"""Lab results, MPI review tasks and critical-value alerts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import JsonDocument, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lab_results",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("sending_facility", sa.String(200), nullable=False),
        sa.Column("control_id", sa.String(200), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("match_grade", sa.String(16), nullable=False),
        sa.Column("match_score", sa.Float, nullable=False),
        sa.Column("encounter_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("observations_created", sa.Integer, nullable=False),
        sa.Column("critical_count", sa.Integer, nullable=False),
        sa.Column("report_ids", JsonDocument, nullable=False),
        sa.Column("observation_ids", JsonDocument, nullable=False),
        sa.Column("raw_message", sa.String(), nullable=False),
        sa.UniqueConstraint("sending_facility", "control_id", name="uq_lab_results_message"),
    )
    op.create_index("ix_lab_results_patient", "lab_results", ["patient_id", "received_at"])
    op.create_table(
        "mpi_review_tasks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("lab_result_id", sa.String(36), nullable=False),
        sa.Column("candidate_patient_id", sa.String(64), nullable=False),
        sa.Column("grade", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("field_scores", JsonDocument, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
    )
    op.create_index("ix_mpi_review_tasks_lab_result_id", "mpi_review_tasks", ["lab_result_id"])
    op.create_index("ix_mpi_review_status", "mpi_review_tasks", ["status", "created_at"])
    op.create_table(
        "lab_alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("lab_result_id", sa.String(36), nullable=False),
        sa.Column("observation_id", sa.String(64), nullable=True),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("direction", sa.String(16), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_lab_alerts_lab_result_id", "lab_alerts", ["lab_result_id"])
    op.create_index("ix_lab_alerts_patient", "lab_alerts", ["patient_id", "created_at"])


def downgrade() -> None:
    op.drop_table("lab_alerts")
    op.drop_table("mpi_review_tasks")
    op.drop_table("lab_results")
