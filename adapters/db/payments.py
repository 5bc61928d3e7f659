"""PaymentRepository on SQL. Status changes are compare-and-set UPDATEs.

``UPDATE payments SET status = :new ... WHERE id = :id AND status = :old``: on PostgreSQL a
concurrent writer blocks on the row lock, then re-reads the row and finds the status changed
(rowcount 0); on SQLite transactions begin IMMEDIATE and so run one at a time. Either way,
of any number of concurrent attempts to apply one change, exactly one succeeds, and only
that one writes the history row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.tables_payments import PaymentRow, PaymentTransitionRow
from resolvers.payments.model import (
    OPEN_STATUSES,
    Direction,
    DuplicatePayment,
    Payment,
    PaymentQuery,
    PaymentStatus,
    PaymentTransition,
    TransitionSource,
)

P = PaymentRow.__table__  # type: ignore[attr-defined]
H = PaymentTransitionRow.__table__  # type: ignore[attr-defined]
# Built once: webhook processing looks payments up by id and by provider reference for
# every event (adapters/db/webhooks.py says why).
_BY_IDS = select(P).where(P.c.id.in_(bindparam("ids", expanding=True)))
_BY_REFERENCE = select(P).where(P.c.provider == bindparam("provider_name"),
                                P.c.provider_reference == bindparam("reference"))
UPDATABLE = frozenset({
    "provider_reference", "provider_transaction_id", "provider_secret_hash", "redirect_url",
    "failure_reason", "next_check_at", "checks", "initiated", "updated_at", "callback_token_hash",
    "refunded_minor",
})


def _payment(r: Any) -> Payment:
    values = dict(r)
    values["status"] = PaymentStatus(values["status"])
    values["direction"] = Direction(values["direction"])
    return Payment(**values)


def _transition(r: Any) -> PaymentTransition:
    return PaymentTransition(
        id=r["id"], payment_id=r["payment_id"],
        from_status=PaymentStatus(r["from_status"]) if r["from_status"] else None,
        to_status=PaymentStatus(r["to_status"]), reason=r["reason"],
        source=TransitionSource(r["source"]), at=r["at"])


def _transition_values(t: PaymentTransition) -> dict[str, Any]:
    return {"id": t.id, "payment_id": t.payment_id,
            "from_status": t.from_status.value if t.from_status else None,
            "to_status": t.to_status.value, "reason": t.reason[:500], "source": t.source.value,
            "at": t.at}


def _checked(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    return dict(changes)


class SqlPaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, payment: Payment, created: PaymentTransition) -> None:
        values = {**payment.__dict__, "status": payment.status.value,
                  "direction": payment.direction.value}
        try:
            async with self._session.begin_nested():
                await self._session.execute(insert(P).values(**values))
        except IntegrityError:
            raise DuplicatePayment(payment.idempotency_key) from None
        await self._session.execute(insert(H).values(**_transition_values(created)))

    async def get_many(self, ids: Sequence[str]) -> dict[str, Payment]:
        if not ids:
            return {}
        rows = (await self._session.execute(_BY_IDS, {"ids": list(set(ids))})).mappings()
        return {r["id"]: _payment(r) for r in rows}

    async def _one(self, *conditions: Any) -> Payment | None:
        row = (await self._session.execute(select(P).where(*conditions))).mappings().first()
        return _payment(row) if row else None

    async def find_by_idempotency_key(self, created_by: str, key: str) -> Payment | None:
        return await self._one(P.c.created_by == created_by, P.c.idempotency_key == key)

    async def find_by_callback_hash(self, token_hash: str) -> Payment | None:
        return await self._one(P.c.callback_token_hash == token_hash)

    async def find_by_provider_reference(self, provider: str, reference: str) -> Payment | None:
        row = (await self._session.execute(
            _BY_REFERENCE, {"provider_name": provider, "reference": reference})).mappings().first()
        return _payment(row) if row else None

    async def search(self, query: PaymentQuery) -> list[Payment]:
        stmt = select(P).order_by(P.c.id.desc()).limit(query.limit)
        if query.provider:
            stmt = stmt.where(P.c.provider == query.provider)
        if query.status:
            stmt = stmt.where(P.c.status == query.status.value)
        if query.direction:
            stmt = stmt.where(P.c.direction == query.direction.value)
        if query.patient_ids is not None:
            stmt = stmt.where(P.c.patient_id.in_(list(query.patient_ids)))
        if query.reference:
            stmt = stmt.where(P.c.reference == query.reference)
        if query.after:
            stmt = stmt.where(P.c.id < query.after)
        return [_payment(r) for r in (await self._session.execute(stmt)).mappings()]

    async def transition(self, payment_id: str, expected: PaymentStatus,
                         transition: PaymentTransition, changes: Mapping[str, Any]) -> bool:
        stmt = (update(P).where(P.c.id == payment_id, P.c.status == expected.value)
                .values(status=transition.to_status.value, **_checked(changes)))
        result = await self._session.execute(stmt)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await self._session.execute(insert(H).values(**_transition_values(transition)))
        return True

    async def update(self, payment_id: str, changes: Mapping[str, Any], *,
                     expected_next_check: datetime | bool | None = False) -> bool:
        stmt = update(P).where(P.c.id == payment_id).values(**_checked(changes))
        if expected_next_check is not False:
            stmt = stmt.where(P.c.next_check_at.is_(None) if expected_next_check is None
                              else P.c.next_check_at == expected_next_check)
        result = await self._session.execute(stmt)
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def history(self, payment_ids: Sequence[str]) -> dict[str, list[PaymentTransition]]:
        grouped: dict[str, list[PaymentTransition]] = {p: [] for p in payment_ids}
        if not payment_ids:
            return grouped
        stmt = select(H).where(H.c.payment_id.in_(list(set(payment_ids)))).order_by(H.c.id)
        for r in (await self._session.execute(stmt)).mappings():
            grouped.setdefault(r["payment_id"], []).append(_transition(r))
        return grouped

    async def due(self, now: datetime, limit: int) -> list[Payment]:
        stmt = (select(P).where(P.c.next_check_at <= now,
                                P.c.status.in_([s.value for s in OPEN_STATUSES]))
                .order_by(P.c.next_check_at).limit(limit))
        return [_payment(r) for r in (await self._session.execute(stmt)).mappings()]
