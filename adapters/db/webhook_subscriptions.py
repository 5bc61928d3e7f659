"""Outbound webhook subscriptions on SQL: endpoints, events, deliveries and attempts.

Every method is one transaction; outbox rows given to it (fan-out deliveries, replays, the
``webhook.endpoint.disabled`` announcement) commit with the change they belong to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.dialect import insert_for
from adapters.db.outbox import SqlOutboxWriter
from adapters.db.tables_webhook_subscriptions import (
    OutboundEventRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
)
from resolvers.notifications.model import (
    Attempt,
    AttemptOutcome,
    Delivery,
    DeliveryDetail,
    DeliveryQuery,
    DeliveryStatus,
    Endpoint,
    EndpointSecret,
    WebhookEvent,
)
from resolvers.outbox.model import NewOutboxMessage

E = WebhookEndpointRow.__table__  # type: ignore[attr-defined]
V = OutboundEventRow.__table__  # type: ignore[attr-defined]
D = WebhookDeliveryRow.__table__  # type: ignore[attr-defined]
A = WebhookAttemptRow.__table__  # type: ignore[attr-defined]


def _endpoint(r: Any) -> Endpoint:
    previous = (EndpointSecret(r.previous_secret, r.previous_secret_expires_at)
                if r.previous_secret else None)
    return Endpoint(
        id=r.id, url=r.url, event_types=tuple(r.event_types),
        resource_types=tuple(r.resource_types), description=r.description,
        enabled=bool(r.enabled), secret=r.secret, previous_secret=previous,
        created_by=r.created_by, created_at=r.created_at, updated_at=r.updated_at,
        disabled_reason=r.disabled_reason, failing_since=r.failing_since,
        managed_by_settings=bool(r.managed_by_settings))


def _endpoint_values(e: Endpoint) -> dict[str, Any]:
    return {
        "url": e.url, "event_types": list(e.event_types),
        "resource_types": list(e.resource_types), "description": e.description,
        "enabled": e.enabled, "secret": e.secret,
        "previous_secret": e.previous_secret.value if e.previous_secret else None,
        "previous_secret_expires_at": e.previous_secret.expires_at if e.previous_secret
        else None,
        "disabled_reason": e.disabled_reason, "failing_since": e.failing_since,
        "managed_by_settings": e.managed_by_settings, "updated_at": e.updated_at}


def _delivery(r: Any) -> Delivery:
    return Delivery(id=r.id, endpoint_id=r.endpoint_id, event_id=r.event_id,
                    event_type=r.event_type, status=DeliveryStatus(r.status),
                    attempts=r.attempts, created_at=r.created_at, updated_at=r.updated_at,
                    last_status_code=r.last_status_code, last_error=r.last_error)


def _attempt(r: Any) -> Attempt:
    return Attempt(id=r.id, delivery_id=r.delivery_id, endpoint_id=r.endpoint_id,
                   attempted_at=r.attempted_at, status_code=r.status_code,
                   duration_ms=float(r.duration_ms), response_excerpt=r.response_excerpt,
                   error=r.error)


class SqlWebhookStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 now: Callable[[], datetime],
                 on_commit: Callable[[], None] | None = None) -> None:
        self._sessions = sessions
        self._now = now
        self._on_commit = on_commit  # wakes this process's outbox worker

    def _woken(self, messages: Sequence[NewOutboxMessage]) -> None:
        if messages and self._on_commit is not None:
            self._on_commit()

    async def add_endpoint(self, endpoint: Endpoint) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(insert(E).values(
                id=endpoint.id, created_by=endpoint.created_by,
                created_at=endpoint.created_at, **_endpoint_values(endpoint)))

    async def get_endpoint(self, endpoint_id: str) -> Endpoint | None:
        async with self._sessions() as session:
            row = (await session.execute(select(E).where(E.c.id == endpoint_id))).first()
        return _endpoint(row) if row is not None else None

    async def list_endpoints(self, after: str | None, limit: int) -> list[Endpoint]:
        stmt = select(E).order_by(E.c.id).limit(limit)
        if after:
            stmt = stmt.where(E.c.id > after)
        async with self._sessions() as session:
            return [_endpoint(r) for r in (await session.execute(stmt)).all()]

    async def all_endpoints(self) -> list[Endpoint]:
        async with self._sessions() as session:
            return [_endpoint(r) for r in (await session.execute(select(E))).all()]

    async def add_endpoint_once(self, endpoint: Endpoint) -> Endpoint:
        async with self._sessions() as session, session.begin():
            await session.execute(insert_for(session)(E).values(
                id=endpoint.id, created_by=endpoint.created_by,
                created_at=endpoint.created_at, **_endpoint_values(endpoint),
            ).on_conflict_do_nothing(index_elements=["id"]))
            row = (await session.execute(select(E).where(E.c.id == endpoint.id))).one()
        return _endpoint(row)

    async def save_endpoint(self, endpoint: Endpoint) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(E).where(E.c.id == endpoint.id).values(**_endpoint_values(endpoint)))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete_endpoint(self, endpoint_id: str) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(E).where(E.c.id == endpoint_id))
            await session.execute(delete(A).where(A.c.endpoint_id == endpoint_id))
            await session.execute(delete(D).where(D.c.endpoint_id == endpoint_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def disable_endpoint(self, endpoint_id: str, reason: str, at: datetime,
                               announce: Sequence[NewOutboxMessage]) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(E).where(E.c.id == endpoint_id, E.c.enabled.is_(True))
                .values(enabled=False, disabled_reason=reason[:500], updated_at=at))
            changed = bool(result.rowcount)  # type: ignore[attr-defined]
            if changed:  # only the process that disabled it announces it
                await SqlOutboxWriter(session, self._now).enqueue(announce)
        if changed:
            self._woken(announce)
        return changed

    async def record_fanout(self, event: WebhookEvent, deliveries: Sequence[Delivery],
                            messages: Sequence[NewOutboxMessage]) -> None:
        async with self._sessions() as session, session.begin():
            ins = insert_for(session)
            await session.execute(ins(V).values(
                id=event.id, type=event.type, version=event.version,
                occurred_at=event.occurred_at, data=event.data,
                resource_type=event.resource_type).on_conflict_do_nothing(
                    index_elements=["id"]))
            if deliveries:
                await session.execute(ins(D).on_conflict_do_nothing(
                    index_elements=["event_id", "endpoint_id"]), [
                    {"id": d.id, "endpoint_id": d.endpoint_id, "event_id": d.event_id,
                     "event_type": d.event_type, "status": d.status.value,
                     "attempts": 0, "created_at": d.created_at, "updated_at": d.updated_at}
                    for d in deliveries])
            await SqlOutboxWriter(session, self._now).enqueue(messages)
        self._woken(messages)

    async def delivery_context(self, delivery_id: str,
                               ) -> tuple[Delivery, Endpoint, WebhookEvent] | None:
        # One statement per delivery (it runs for every attempt): columns prefixed by table.
        stmt = (select(*(c.label(f"d_{c.name}") for c in D.c),
                       *(c.label(f"e_{c.name}") for c in E.c),
                       *(c.label(f"v_{c.name}") for c in V.c))
                .join(E, E.c.id == D.c.endpoint_id).join(V, V.c.id == D.c.event_id)
                .where(D.c.id == delivery_id))
        async with self._sessions() as session:
            row = (await session.execute(stmt)).mappings().first()
        if row is None:
            return None
        d = SimpleNamespace(**{c.name: row[f"d_{c.name}"] for c in D.c})
        e = SimpleNamespace(**{c.name: row[f"e_{c.name}"] for c in E.c})
        return _delivery(d), _endpoint(e), WebhookEvent(
            id=row["v_id"], type=row["v_type"], version=row["v_version"],
            occurred_at=row["v_occurred_at"], data=row["v_data"],
            resource_type=row["v_resource_type"])

    async def record_attempts(self, outcomes: Sequence[AttemptOutcome]) -> None:
        if not outcomes:
            return
        async with self._sessions() as session, session.begin():
            await session.execute(insert(A), [
                {"id": o.attempt.id, "delivery_id": o.attempt.delivery_id,
                 "endpoint_id": o.attempt.endpoint_id, "attempted_at": o.attempt.attempted_at,
                 "status_code": o.attempt.status_code, "duration_ms": o.attempt.duration_ms,
                 "response_excerpt": o.attempt.response_excerpt, "error": o.attempt.error}
                for o in outcomes])
            for o in outcomes:
                attempt = o.attempt
                await session.execute(update(D).where(D.c.id == attempt.delivery_id).values(
                    status=o.status.value, attempts=D.c.attempts + 1,
                    last_status_code=attempt.status_code, last_error=attempt.error,
                    updated_at=attempt.attempted_at))
            healthy = {o.attempt.endpoint_id for o in outcomes if o.failing_since is None}
            if healthy:  # a success: the endpoint is healthy again
                await session.execute(update(E).where(E.c.id.in_(sorted(healthy)))
                                      .values(failing_since=None))
            for o in outcomes:
                if o.failing_since is not None and o.attempt.endpoint_id not in healthy:
                    # Keep the first failure's time: the auto-disable clock runs from it.
                    await session.execute(update(E).where(
                        E.c.id == o.attempt.endpoint_id, E.c.failing_since.is_(None))
                        .values(failing_since=o.failing_since))

    async def set_delivery_status(self, delivery_id: str, status: DeliveryStatus,
                                  at: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(update(D).where(D.c.id == delivery_id).values(
                status=status.value, updated_at=at))

    async def list_deliveries(self, query: DeliveryQuery) -> list[Delivery]:
        stmt = (select(D).where(D.c.endpoint_id == query.endpoint_id)
                .order_by(D.c.id.desc()).limit(query.limit))
        if query.status is not None:
            stmt = stmt.where(D.c.status == query.status.value)
        if query.event_type:
            stmt = stmt.where(D.c.event_type == query.event_type)
        if query.after:
            stmt = stmt.where(D.c.id < query.after)  # newest first: the next page is older
        async with self._sessions() as session:
            return [_delivery(r) for r in (await session.execute(stmt)).all()]

    async def deliveries_by_status(self, statuses: Sequence[DeliveryStatus],
                                   limit: int) -> list[Delivery]:
        # ix_webhook_deliveries_status (migration 0019): an index range per status.
        stmt = (select(D).where(D.c.status.in_([s.value for s in statuses]))
                .order_by(D.c.updated_at.desc(), D.c.id.desc()).limit(limit))
        async with self._sessions() as session:
            return [_delivery(r) for r in (await session.execute(stmt)).all()]

    async def get_delivery(self, endpoint_id: str, delivery_id: str) -> DeliveryDetail | None:
        async with self._sessions() as session:
            row = (await session.execute(select(D).where(
                D.c.id == delivery_id, D.c.endpoint_id == endpoint_id))).first()
            if row is None:
                return None
            attempts = (await session.execute(select(A).where(
                A.c.delivery_id == delivery_id).order_by(A.c.attempted_at, A.c.id))).all()
        return DeliveryDetail(_delivery(row), [_attempt(a) for a in attempts])

    async def replayable_since(self, endpoint_id: str, since: datetime,
                               limit: int) -> list[Delivery]:
        stmt = (select(D).where(
            D.c.endpoint_id == endpoint_id, D.c.created_at >= since,
            D.c.status.in_([DeliveryStatus.EXHAUSTED.value, DeliveryStatus.FAILED.value,
                            DeliveryStatus.SKIPPED.value]))
            .order_by(D.c.id).limit(limit))
        async with self._sessions() as session:
            return [_delivery(r) for r in (await session.execute(stmt)).all()]

    async def requeue(self, delivery_ids: Sequence[str], messages: Sequence[NewOutboxMessage],
                      at: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(update(D).where(D.c.id.in_(list(delivery_ids))).values(
                status=DeliveryStatus.PENDING.value, updated_at=at))
            await SqlOutboxWriter(session, self._now).enqueue(messages)
        self._woken(messages)

    async def enqueue_events(self, messages: Sequence[NewOutboxMessage]) -> None:
        """The ``EventEnqueuer`` of events that change nothing else (webhook.test)."""
        async with self._sessions() as session, session.begin():
            await SqlOutboxWriter(session, self._now).enqueue(messages)
        self._woken(messages)
