"""The audit writer's parameters (adapters/db/audit_writes._bound) are what row_values and the
columns' own bind processors make of each record, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.dialects.sqlite import aiosqlite
from sqlalchemy.engine import Dialect

from adapters.db.audit import row_values
from adapters.db.audit_writes import _INSERT, _bound
from resolvers.audit.model import AuditAction, AuditOutcome, AuditRecord

AT = datetime(2026, 12, 7, 8, 30, 1, 123456, tzinfo=UTC)
RECORDS = [
    AuditRecord("a1", AT, "clin", ("clinician",), AuditAction.READ, "Observation", None,
                "p1", AuditOutcome.SUCCESS, "req-1", "graphql", ""),
    AuditRecord("a2", AT, "clin", ("clinician",), AuditAction.READ, "Observation", "o-2",
                "p2", AuditOutcome.SUCCESS, "req-1", "graphql", ""),
    AuditRecord("a3", AT.astimezone(timezone(timedelta(hours=3))) + timedelta(seconds=1),
                "admin", ("admin", "lab"), AuditAction.EXECUTE, "graphql:Query.x", None, None,
                AuditOutcome.DENIED, "req-2", "rest", "TREAT smart_app=x"),
    AuditRecord("a4", AT, "anon", (), AuditAction.DELETE, "Patient", "p3", "p3",
                AuditOutcome.FAILURE, "req-3", "fhir", "purpose"),
]


@pytest.mark.parametrize("dialect", [aiosqlite.dialect(), asyncpg.dialect()],
                         ids=["sqlite", "postgresql"])
def test_parameters_are_row_values_through_the_bind_processors(dialect: Dialect) -> None:
    compiled = _INSERT.compiled(dialect)
    expected = []
    for record in RECORDS:
        row = row_values(record)
        expected.append([row[name] if proc is None else proc(row[name])
                         for name, proc in zip(compiled.names, compiled.binds, strict=True)])
    # Types too: an enum member equals its code, but the drivers must be given the code.
    assert _typed(_bound(compiled, RECORDS)) == _typed(expected)
    assert _typed(_bound(compiled, RECORDS[2:3])) == _typed(expected[2:3])


def _typed(rows: list[list[object]]) -> list[list[tuple[type, object]]]:
    return [[(type(value), value) for value in row] for row in rows]
