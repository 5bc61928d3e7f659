"""LabRepository on SQL: lab messages, MPI review tasks, critical alerts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.dialect import dialect_name
from adapters.db.tables import (
    LabAlertRow,
    LabMessageConflictRow,
    LabResultRow,
    MpiLinkRow,
    MpiReviewTaskRow,
)
from resolvers.labs.records import (
    DuplicateMessage,
    LabAlert,
    LabMessageConflict,
    LabResult,
    LabResultQuery,
    MpiLink,
    ReviewTask,
)

L = LabResultRow.__table__  # type: ignore[attr-defined]
T = MpiReviewTaskRow.__table__  # type: ignore[attr-defined]
A = LabAlertRow.__table__  # type: ignore[attr-defined]
K = MpiLinkRow.__table__  # type: ignore[attr-defined]
C = LabMessageConflictRow.__table__  # type: ignore[attr-defined]
# Built once: every lab message batch looks its messages up first.
_BY_MESSAGE_KEYS = select(L).where(tuple_(L.c.sending_facility, L.c.control_id).in_(
    bindparam("message_keys", expanding=True)))


# The ordered subquery feeds the aggregate row by row, so the locks are taken in key order.
_LOCK_KEYS = text(
    "SELECT count(pg_advisory_xact_lock(h)) FROM (SELECT hashtextextended(k, 0) AS h "
    "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS ordered")


def _alert(r: Any) -> LabAlert:
    return LabAlert(**{**dict(r), "candidates": tuple(r["candidates"] or ())})


def _result(r: Any) -> LabResult:
    return LabResult(
        id=r["id"], sending_facility=r["sending_facility"], control_id=r["control_id"],
        received_at=r["received_at"], patient_id=r["patient_id"], match_grade=r["match_grade"],
        match_score=r["match_score"], encounter_id=r["encounter_id"], status=r["status"],
        observations_created=r["observations_created"], critical_count=r["critical_count"],
        report_ids=tuple(r["report_ids"] or ()), observation_ids=tuple(r["observation_ids"] or ()),
        raw_message=r["raw_message"], channel=r["channel"])


class SqlLabRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find_message(self, sending_facility: str, control_id: str) -> LabResult | None:
        row = (await self._session.execute(select(L).where(
            L.c.sending_facility == sending_facility, L.c.control_id == control_id,
        ))).mappings().first()
        return _result(row) if row else None

    async def find_messages(self, keys: Sequence[tuple[str, str]],
                            ) -> dict[tuple[str, str], LabResult]:
        """The stored results of any of these (sending facility, control id) messages."""
        if not keys:
            return {}
        # Row values over the unique (facility, control id) index: an index probe per key.
        rows = (await self._session.execute(_BY_MESSAGE_KEYS,
                                            {"message_keys": sorted(set(keys))})).mappings()
        return {(row["sending_facility"], row["control_id"]): _result(row) for row in rows}

    async def add_results(self, results: Sequence[LabResult]) -> None:
        """One multi-row insert; a message stored meanwhile by another request or process
        surfaces as DuplicateMessage (the caller retries that message on its own)."""
        if not results:
            return
        try:
            await self._session.execute(insert(L), [
                {**r.__dict__, "report_ids": list(r.report_ids),
                 "observation_ids": list(r.observation_ids)} for r in results])
        except IntegrityError:
            first = results[0]
            raise DuplicateMessage(first.sending_facility, first.control_id) from None

    async def add_result(self, result: LabResult) -> None:
        values = {**result.__dict__, "report_ids": list(result.report_ids),
                  "observation_ids": list(result.observation_ids)}
        try:
            await self._session.execute(insert(L).values(**values))
        except IntegrityError:  # the same message, committed meanwhile by a concurrent request
            raise DuplicateMessage(result.sending_facility, result.control_id) from None

    async def add_review_tasks(self, tasks: Sequence[ReviewTask]) -> None:
        if tasks:
            await self._session.execute(insert(T), [dict(t.__dict__) for t in tasks])

    async def add_alerts(self, alerts: Sequence[LabAlert]) -> None:
        if alerts:
            await self._session.execute(insert(A), [
                {**a.__dict__, "candidates": list(a.candidates)} for a in alerts])

    async def add_conflicts(self, conflicts: Sequence[LabMessageConflict]) -> None:
        if conflicts:
            await self._session.execute(insert(C), [dict(c.__dict__) for c in conflicts])

    async def conflicts(self, after: str | None, limit: int) -> list[LabMessageConflict]:
        stmt = select(C).order_by(C.c.id.desc()).limit(limit)
        if after:
            stmt = stmt.where(C.c.id < after)
        return [LabMessageConflict(**dict(r))
                for r in (await self._session.execute(stmt)).mappings()]

    async def lock_result_keys(self, keys: Sequence[str]) -> None:
        """PostgreSQL: transaction-scoped advisory locks, taken in sorted order (no deadlock
        between two writers). SQLite needs none: every transaction holds the one write lock."""
        if not keys or dialect_name(self._session) != "postgresql":
            return
        await self._session.execute(_LOCK_KEYS, {"keys": sorted(set(keys))})

    async def add_links(self, links: Sequence[MpiLink]) -> None:
        if links:
            await self._session.execute(insert(K), [dict(k.__dict__) for k in links])

    async def results(self, query: LabResultQuery) -> list[LabResult]:
        stmt = select(L).order_by(L.c.id.desc()).limit(query.limit)
        if query.patient_id:
            stmt = stmt.where(L.c.patient_id == query.patient_id)
        if query.status:
            stmt = stmt.where(L.c.status == query.status)
        if query.after:
            stmt = stmt.where(L.c.id < query.after)
        return [_result(r) for r in (await self._session.execute(stmt)).mappings()]

    async def open_review_tasks(self, after: str | None, limit: int) -> list[ReviewTask]:
        stmt = select(T).where(T.c.status == "open").order_by(T.c.id).limit(limit)
        if after:
            stmt = stmt.where(T.c.id > after)
        return [ReviewTask(**dict(r)) for r in (await self._session.execute(stmt)).mappings()]

    async def alerts(self, patient_id: str | None, after: str | None,
                     limit: int, *, unacknowledged: bool = False) -> list[LabAlert]:
        stmt = select(A).order_by(A.c.id.desc()).limit(limit)
        if unacknowledged:
            stmt = stmt.where(A.c.acknowledged_at.is_(None))
        if patient_id:
            stmt = stmt.where(A.c.patient_id == patient_id)
        if after:
            stmt = stmt.where(A.c.id < after)
        return [_alert(r) for r in (await self._session.execute(stmt)).mappings()]

    async def get_alerts(self, alert_ids: Sequence[str]) -> dict[str, LabAlert]:
        if not alert_ids:
            return {}
        rows = (await self._session.execute(select(A).where(A.c.id.in_(sorted(set(alert_ids))))
                )).mappings()
        return {r["id"]: _alert(r) for r in rows}

    async def alerts_for_result(self, result_id: str) -> list[LabAlert]:
        rows = (await self._session.execute(select(A).where(
            A.c.lab_result_id == result_id).order_by(A.c.id))).mappings()
        return [_alert(r) for r in rows]

    async def acknowledge_alert(self, alert_id: str, by: str, at: datetime) -> bool:
        done = await self._session.execute(update(A).where(
            A.c.id == alert_id, A.c.acknowledged_at.is_(None)).values(
            acknowledged_at=at, acknowledged_by=by))
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    async def set_alert_delivery(self, alert_id: str, status: str) -> None:
        await self._session.execute(update(A).where(A.c.id == alert_id).values(
            delivery_status=status))

    async def attach_alert(self, alert_id: str, patient_id: str, observation_id: str) -> None:
        await self._session.execute(update(A).where(A.c.id == alert_id).values(
            patient_id=patient_id, observation_id=observation_id))

    async def hold_alerts(self, result_id: str, candidates: tuple[dict[str, Any], ...]) -> None:
        await self._session.execute(update(A).where(A.c.lab_result_id == result_id).values(
            patient_id=None, observation_id=None, candidates=list(candidates)))

    async def due_escalations(self, before: datetime, max_level: int,
                              limit: int) -> list[LabAlert]:
        last_raised = func.coalesce(A.c.escalated_at, A.c.created_at)
        rows = (await self._session.execute(select(A).where(
            A.c.acknowledged_at.is_(None), A.c.escalation_level < max_level,
            last_raised < before).order_by(last_raised).limit(limit))).mappings()
        return [_alert(r) for r in rows]

    async def escalate_alert(self, alert: LabAlert, at: datetime) -> bool:
        done = await self._session.execute(update(A).where(
            A.c.id == alert.id, A.c.acknowledged_at.is_(None),
            A.c.escalation_level == alert.escalation_level).values(
            escalation_level=alert.escalation_level + 1, escalated_at=at))
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    async def count_alerts(self, delivery_status: str) -> int:
        found = await self._session.execute(select(func.count()).select_from(A).where(
            A.c.delivery_status == delivery_status, A.c.acknowledged_at.is_(None)))
        return int(found.scalar_one())

    # ---------------------------------------------------------------- review and links

    async def get_result(self, result_id: str) -> LabResult | None:
        row = (await self._session.execute(select(L).where(L.c.id == result_id))).mappings().first()
        return _result(row) if row else None

    async def update_result(self, result: LabResult, *, expected_status: str) -> bool:
        """Compare-and-set on the status: False when another decision got there first."""
        values = {k: v for k, v in result.__dict__.items() if k not in (
            "id", "sending_facility", "control_id", "received_at", "raw_message")}
        values.update(report_ids=list(result.report_ids),
                      observation_ids=list(result.observation_ids))
        done = await self._session.execute(update(L).where(
            L.c.id == result.id, L.c.status == expected_status).values(**values))
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    async def get_task(self, task_id: str) -> ReviewTask | None:
        row = (await self._session.execute(select(T).where(T.c.id == task_id))).mappings().first()
        return ReviewTask(**dict(row)) if row else None

    async def tasks_for_result(self, result_id: str) -> list[ReviewTask]:
        rows = (await self._session.execute(select(T).where(
            T.c.lab_result_id == result_id).order_by(T.c.id))).mappings()
        return [ReviewTask(**dict(r)) for r in rows]

    async def update_task(self, task: ReviewTask, *, expected_status: str) -> bool:
        done = await self._session.execute(update(T).where(
            T.c.id == task.id, T.c.status == expected_status).values(
            status=task.status, resolved_at=task.resolved_at, resolved_by=task.resolved_by))
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    async def get_link(self, link_id: str) -> MpiLink | None:
        row = (await self._session.execute(select(K).where(K.c.id == link_id))).mappings().first()
        return MpiLink(**dict(row)) if row else None

    async def links(self, lab_result_id: str | None, patient_id: str | None, after: str | None,
                    limit: int) -> list[MpiLink]:
        stmt = select(K).order_by(K.c.id.desc()).limit(limit)
        if lab_result_id:
            stmt = stmt.where(K.c.lab_result_id == lab_result_id)
        if patient_id:
            stmt = stmt.where(K.c.patient_id == patient_id)
        if after:
            stmt = stmt.where(K.c.id < after)
        return [MpiLink(**dict(r)) for r in (await self._session.execute(stmt)).mappings()]

    async def undo_link(self, link: MpiLink) -> bool:
        """Mark ``link`` undone unless it already is (compare-and-set)."""
        done = await self._session.execute(update(K).where(
            K.c.id == link.id, K.c.undone_at.is_(None)).values(
            undone_at=link.undone_at, undone_by=link.undone_by, undo_reason=link.undo_reason))
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]
