"""A lab Observation's flattened view, kept beside its document.

Lab-result reads (REST ``/api/patients/{id}/lab-results``, GraphQL ``labResults``) show
about a tenth of each Observation. Decoding the stored document and flattening it was a
quarter of a lab-results read and an eighth of a 50-patient page; the view written with
the document decodes in a fraction of that. Written by every write of an Observation
(adapters/db/fhir_store.py) from the same document, in the same statement.

Rows written before this revision keep NULL and are read the old way (their document
decoded and flattened), which gives the same view: no backfill, so upgrading a large
store costs nothing. A build that changes how a view is derived must clear the column
(``UPDATE fhir_resources SET lab_view = NULL``) in a migration of its own.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("fhir_resources", sa.Column("lab_view", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fhir_resources") as batch:
        batch.drop_column("lab_view")
