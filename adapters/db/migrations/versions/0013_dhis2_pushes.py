"""DHIS2 pushes: each push's target, state, the dataValueSet sent and DHIS2's summary.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import JsonDocument, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dhis2_pushes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("instance_url", sa.String(500), nullable=False),
        sa.Column("data_set", sa.String(64), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("org_unit", sa.String(64), nullable=True),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("import_strategy", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("payload", JsonDocument, nullable=False),
        sa.Column("summary", JsonDocument, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_dhis2_pushes_target", "dhis2_pushes", ["data_set", "period", "org_unit"])


def downgrade() -> None:
    op.drop_index("ix_dhis2_pushes_target", table_name="dhis2_pushes")
    op.drop_table("dhis2_pushes")
