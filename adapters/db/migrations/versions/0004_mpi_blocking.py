"""MPI matcher: match records, blocking keys, Fellegi-Sunter parameters; backfills the index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from adapters.db.types import JsonDocument, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    records = op.create_table(
        "mpi_match_records",
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("record", JsonDocument, nullable=False),
    )
    keys = op.create_table(
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
    _backfill(records, keys)


def _backfill(records: sa.Table, keys: sa.Table) -> None:
    """Index the patients that exist already (same rules as adapters.mpi.store.index_patient)."""
    from adapters.mpi.store import index_rows
    from resolvers.mpi.model import Identifier
    from resolvers.mpi.scoring.record import build_record

    bind = op.get_bind()
    patients = sa.table("patients", sa.column("id", sa.String), sa.column("family", sa.String),
                        sa.column("given", JsonDocument), sa.column("birth_date", sa.Date),
                        sa.column("gender", sa.String), sa.column("phone", sa.String))
    idents = sa.table("patient_identifiers", sa.column("patient_id", sa.String),
                      sa.column("system", sa.String), sa.column("value", sa.String),
                      sa.column("position", sa.Integer))
    after = ""
    while True:
        rows = bind.execute(sa.select(patients).where(patients.c.id > after)
                            .order_by(patients.c.id).limit(BATCH)).mappings().all()
        if not rows:
            return
        ids = [r["id"] for r in rows]
        by_patient: dict[str, list[Identifier]] = {}
        for i in bind.execute(sa.select(idents).where(idents.c.patient_id.in_(ids))
                              .order_by(idents.c.patient_id, idents.c.position)).mappings():
            by_patient.setdefault(i["patient_id"], []).append(Identifier(i["system"], i["value"]))
        record_rows: list[dict[str, Any]] = []
        key_rows: list[dict[str, Any]] = []
        for r in rows:
            record = build_record(given=list(r["given"] or ()), family=r["family"],
                                  birth_date=r["birth_date"], gender=r["gender"], phone=r["phone"],
                                  identifiers=tuple(by_patient.get(r["id"], ())))
            record_row, keys_of = index_rows(r["id"], record)
            record_rows.append(record_row)
            key_rows.extend(keys_of)
        op.bulk_insert(records, record_rows)
        if key_rows:
            op.bulk_insert(keys, key_rows)
        after = ids[-1]


def downgrade() -> None:
    op.drop_table("mpi_match_parameters")
    op.drop_index("ix_mpi_blocking_keys_patient", table_name="mpi_blocking_keys")
    op.drop_table("mpi_blocking_keys")
    op.drop_table("mpi_match_records")
