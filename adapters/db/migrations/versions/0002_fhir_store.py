"""FHIR store: current resources, every version, and the search index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import JsonDocument, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fhir_resources",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", UTCDateTime(), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("sort_date", UTCDateTime(), nullable=True),
        sa.Column("document", JsonDocument, nullable=False),
    )
    op.create_index("ix_fhir_resources_type_updated", "fhir_resources",
                    ["resource_type", "last_updated"])
    op.create_index("ix_fhir_resources_type_sort_date", "fhir_resources",
                    ["resource_type", "sort_date"])
    op.create_table(
        "fhir_resource_versions",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, primary_key=True),
        sa.Column("last_updated", UTCDateTime(), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("document", JsonDocument, nullable=False),
    )
    op.create_table(
        "fhir_search_index",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(64), nullable=False),
        sa.Column("system", sa.String(255), nullable=True),
        sa.Column("value", sa.String(255), nullable=True),
        sa.Column("date_lo", UTCDateTime(), nullable=True),
        sa.Column("date_hi", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_fhir_search_value", "fhir_search_index", ["resource_type", "param", "value"])
    op.create_index("ix_fhir_search_resource", "fhir_search_index",
                    ["resource_type", "resource_id"])
    op.create_index("ix_fhir_search_date", "fhir_search_index", ["resource_type", "param", "date_lo"])


def downgrade() -> None:
    op.drop_table("fhir_search_index")
    op.drop_table("fhir_resource_versions")
    op.drop_table("fhir_resources")
