"""StripeStore on SQL: refunds and subscriptions, each call in its own transaction.

A subscription is applied with one conditional statement, so concurrent workers handling
events of one subscription cannot interleave: an INSERT that does nothing if the row exists,
then ``UPDATE ... WHERE id = :id AND <the stored event is older> AND <not reviving a
terminal status>``. Whatever order events are processed in, the row ends at the newest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.dialect import insert_for
from adapters.db.tables_stripe import StripeRefundRow, StripeSubscriptionRow
from resolvers.payments.stripe_model import (
    DuplicateRefund,
    Refund,
    RefundStatus,
    StripeSubscription,
    SubscriptionQuery,
)

R = StripeRefundRow.__table__  # type: ignore[attr-defined]
SUB = StripeSubscriptionRow.__table__  # type: ignore[attr-defined]
TERMINAL_SUBSCRIPTION_STATUSES = ("canceled", "incomplete_expired")
REFUND_UPDATABLE = frozenset({"status", "stripe_refund_id", "failure_reason", "updated_at"})


def _refund(r: Any) -> Refund:
    values = dict(r)
    values["status"] = RefundStatus(values["status"])
    return Refund(**values)


def _subscription(r: Any) -> StripeSubscription:
    return StripeSubscription(**dict(r))


class SqlStripeStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add_refund(self, refund: Refund) -> None:
        values = {**refund.__dict__, "status": refund.status.value}
        async with self._sessions() as session:
            try:
                await session.execute(insert(R).values(**values))
                await session.commit()
            except IntegrityError:
                await session.rollback()
                raise DuplicateRefund(refund.idempotency_key) from None

    async def _one_refund(self, *conditions: Any) -> Refund | None:
        async with self._sessions() as session:
            row = (await session.execute(select(R).where(*conditions))).mappings().first()
            return _refund(row) if row else None

    async def refund_by_key(self, created_by: str, key: str) -> Refund | None:
        return await self._one_refund(R.c.created_by == created_by, R.c.idempotency_key == key)

    async def refund_by_stripe_id(self, stripe_refund_id: str) -> Refund | None:
        return await self._one_refund(R.c.stripe_refund_id == stripe_refund_id)

    async def get_refund(self, refund_id: str) -> Refund | None:
        return await self._one_refund(R.c.id == refund_id)

    async def refunds_of(self, payment_ids: Sequence[str]) -> dict[str, list[Refund]]:
        grouped: dict[str, list[Refund]] = {p: [] for p in payment_ids}
        if not payment_ids:
            return grouped
        stmt = select(R).where(R.c.payment_id.in_(list(set(payment_ids)))).order_by(R.c.id)
        async with self._sessions() as session:
            for row in (await session.execute(stmt)).mappings():
                grouped.setdefault(row["payment_id"], []).append(_refund(row))
        return grouped

    async def update_refund(self, refund_id: str, changes: Mapping[str, Any],
                            expected: Sequence[RefundStatus] | None = None) -> bool:
        unknown = set(changes) - REFUND_UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        values = {k: (v.value if isinstance(v, RefundStatus) else v) for k, v in changes.items()}
        stmt = update(R).where(R.c.id == refund_id).values(**values)
        if expected is not None:
            stmt = stmt.where(R.c.status.in_([s.value for s in expected]))
        async with self._sessions() as session:
            try:
                result = await session.execute(stmt)
                await session.commit()
            except IntegrityError:  # the Stripe refund id belongs to another row
                await session.rollback()
                raise DuplicateRefund(str(changes.get("stripe_refund_id"))) from None
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def apply_subscription(self, subscription: StripeSubscription) -> bool:
        values = dict(subscription.__dict__)
        async with self._sessions() as session:
            inserted = await session.execute(
                insert_for(session)(SUB).values(**values).on_conflict_do_nothing(index_elements=["id"]))
            if inserted.rowcount == 1:  # type: ignore[attr-defined]
                await session.commit()
                return True
            changes = {k: v for k, v in values.items() if k not in ("id", "created_at")}
            newer = or_(SUB.c.last_event_created < subscription.last_event_created,
                        and_(SUB.c.last_event_created == subscription.last_event_created,
                             SUB.c.last_event_rank < subscription.last_event_rank))
            stmt = update(SUB).where(SUB.c.id == subscription.id, newer).values(**changes)
            if subscription.status not in TERMINAL_SUBSCRIPTION_STATUSES:
                stmt = stmt.where(SUB.c.status.not_in(TERMINAL_SUBSCRIPTION_STATUSES))
            if subscription.patient_id is None:  # keep a patient learnt from an earlier event
                stmt = stmt.values(patient_id=SUB.c.patient_id)
            result = await session.execute(stmt)
            applied = bool(result.rowcount == 1)  # type: ignore[attr-defined]
            if not applied and subscription.patient_id is not None:
                # The patient (metadata.cari_patient_id) is learnt from any event, even old.
                await session.execute(update(SUB).where(
                    SUB.c.id == subscription.id, SUB.c.patient_id.is_(None)).values(
                    patient_id=subscription.patient_id))
            await session.commit()
            return applied

    async def get_subscription(self, subscription_id: str) -> StripeSubscription | None:
        async with self._sessions() as session:
            row = (await session.execute(select(SUB).where(SUB.c.id == subscription_id))
                   ).mappings().first()
            return _subscription(row) if row else None

    async def search_subscriptions(self, query: SubscriptionQuery) -> list[StripeSubscription]:
        stmt = select(SUB).order_by(SUB.c.id).limit(query.limit)
        if query.status:
            stmt = stmt.where(SUB.c.status == query.status)
        if query.patient_id:
            stmt = stmt.where(SUB.c.patient_id == query.patient_id)
        if query.after:
            stmt = stmt.where(SUB.c.id > query.after)
        async with self._sessions() as session:
            return [_subscription(r) for r in (await session.execute(stmt)).mappings()]
