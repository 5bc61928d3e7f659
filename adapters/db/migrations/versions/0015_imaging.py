"""DICOM imaging: studies checked by an access call, and versioned annotations.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import JsonDocument, UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imaging_studies",
        sa.Column("study_uid", sa.String(64), primary_key=True),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "imaging_annotations",
        sa.Column("annotation_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("study_uid", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("series_uid", sa.String(64), nullable=False),
        sa.Column("instance_uid", sa.String(64), nullable=False),
        sa.Column("frame", sa.Integer, nullable=False),
        sa.Column("coordinates", JsonDocument, nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("text", sa.String(4000), nullable=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("unit", sa.String(32), nullable=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sr_state", sa.String(16), nullable=False),
        sa.Column("is_latest", sa.Boolean, nullable=False),
    )
    op.create_index("ix_imaging_annotations_study", "imaging_annotations",
                    ["study_uid", "annotation_id", "version"])


def downgrade() -> None:
    op.drop_index("ix_imaging_annotations_study", table_name="imaging_annotations")
    op.drop_table("imaging_annotations")
    op.drop_table("imaging_studies")
