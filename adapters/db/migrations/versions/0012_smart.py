"""SMART on FHIR: registered apps and one-time grants (launches, codes, refresh tokens,
assertion jtis, revoked tokens).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import JsonDocument, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smart_apps",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("redirect_uris", JsonDocument, nullable=False),
        sa.Column("scopes", JsonDocument, nullable=False),
        sa.Column("launch_urls", JsonDocument, nullable=False),
        sa.Column("confidential", sa.Boolean, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=True),
        sa.Column("jwks_url", sa.String(2000), nullable=True),
        sa.Column("jwks", JsonDocument, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "smart_grants",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("data", JsonDocument, nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_smart_grants_expires", "smart_grants", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_smart_grants_expires", table_name="smart_grants")
    op.drop_table("smart_grants")
    op.drop_table("smart_apps")
