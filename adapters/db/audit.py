"""AuditLog on SQL: append-only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.tables import AuditEventRow
from resolvers.audit.model import AuditAction, AuditOutcome, AuditQuery, AuditRecord

A = AuditEventRow.__table__  # type: ignore[attr-defined]


def row_values(r: AuditRecord) -> dict[str, Any]:
    return {"id": r.id, "recorded_at": r.recorded_at, "subject": r.subject,
            "roles": list(r.roles), "action": r.action.value, "resource_type": r.resource_type,
            "resource_id": r.resource_id, "patient_id": r.patient_id,
            "outcome": r.outcome.value, "request_id": r.request_id, "surface": r.surface,
            "purpose": r.purpose}


class SqlAuditLog:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, records: Sequence[AuditRecord]) -> None:
        if not records:
            return
        await self._session.execute(insert(A), [row_values(r) for r in records])

    async def search(self, query: AuditQuery) -> list[AuditRecord]:
        # Newest first; ids are time-ordered, so "after" pages backwards in time.
        stmt = select(A).order_by(A.c.id.desc()).limit(query.limit)
        if query.subject:
            stmt = stmt.where(A.c.subject == query.subject)
        if query.patient_id:
            stmt = stmt.where(A.c.patient_id == query.patient_id)
        if query.resource_type:
            stmt = stmt.where(A.c.resource_type == query.resource_type)
        if query.action:
            stmt = stmt.where(A.c.action == query.action.value)
        if query.outcome:
            stmt = stmt.where(A.c.outcome == query.outcome.value)
        if query.since:
            stmt = stmt.where(A.c.recorded_at >= query.since)
        if query.until:
            stmt = stmt.where(A.c.recorded_at < query.until)
        if query.after:
            stmt = stmt.where(A.c.id < query.after)
        rows = (await self._session.execute(stmt)).mappings()
        return [
            AuditRecord(
                id=r["id"], recorded_at=r["recorded_at"], subject=r["subject"],
                roles=tuple(r["roles"] or ()), action=AuditAction(r["action"]),
                resource_type=r["resource_type"], resource_id=r["resource_id"],
                patient_id=r["patient_id"], outcome=AuditOutcome(r["outcome"]),
                request_id=r["request_id"], surface=r["surface"], purpose=r["purpose"],
            )
            for r in rows
        ]
