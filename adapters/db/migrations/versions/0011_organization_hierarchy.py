"""Organizations: part_of, the parent organization (for organization scoping).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("part_of", sa.String(36), nullable=True))
    op.create_index("ix_organizations_part_of", "organizations", ["part_of"])


def downgrade() -> None:
    op.drop_index("ix_organizations_part_of", table_name="organizations")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("part_of")
