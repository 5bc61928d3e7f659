"""FHIR search: the date index covers date rows only, so identifier lookups use the value index.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_WHERE = sa.text("date_lo IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_fhir_search_date", table_name="fhir_search_index")
    op.create_index("ix_fhir_search_date", "fhir_search_index",
                    ["resource_type", "param", "date_lo"],
                    postgresql_where=_WHERE, sqlite_where=_WHERE)


def downgrade() -> None:
    op.drop_index("ix_fhir_search_date", table_name="fhir_search_index")
    op.create_index("ix_fhir_search_date", "fhir_search_index",
                    ["resource_type", "param", "date_lo"])
