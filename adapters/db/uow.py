"""SqlUnitOfWork: one session, one transaction, every repository the use cases need."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.audit import SqlAuditLog
from adapters.db.fhir_store import SqlFhirRepository
from adapters.db.labs import SqlLabRepository
from adapters.db.match_index import SqlMatchIndex
from adapters.db.organizations import SqlOrganizationRepository
from adapters.db.outbox import SqlOutboxWriter
from adapters.db.patients import SqlPatientRepository
from adapters.db.payments import SqlPaymentRepository
from adapters.db.webhooks import SqlWebhookEventRepository
from resolvers.outbox.model import NewOutboxMessage


class SqlUnitOfWork:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        now: Callable[[], datetime],
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._now = now
        self._on_commit = on_commit

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        self.patients = SqlPatientRepository(self._session)
        self.organizations = SqlOrganizationRepository(self._session)
        self.audit = SqlAuditLog(self._session)
        self.fhir = SqlFhirRepository(self._session)
        self.labs = SqlLabRepository(self._session)
        self.webhooks = SqlWebhookEventRepository(self._session)
        self.payments = SqlPaymentRepository(self._session)
        self.match_index = SqlMatchIndex(self._session)
        self._enqueued = _Flag()
        self.outbox = _TrackingOutboxWriter(SqlOutboxWriter(self._session, self._now),
                                            self._enqueued)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._session.rollback()  # no-op after commit; undoes a half-done one
        finally:
            await self._session.close()

    async def commit(self) -> None:
        await self._session.commit()
        if self._enqueued.value and self._on_commit is not None:
            self._on_commit()
        self._enqueued.value = False

    async def rollback(self) -> None:
        await self._session.rollback()
        self._enqueued.value = False


class _Flag:
    value = False


class _TrackingOutboxWriter:
    """Remembers that messages were enqueued so the local worker can be woken on commit."""

    # Holds a flag, not the unit of work: no reference cycle, so sessions are freed at once.
    def __init__(self, inner: SqlOutboxWriter, enqueued: _Flag) -> None:
        self._inner = inner
        self._enqueued = enqueued

    async def enqueue(self, messages: Sequence[NewOutboxMessage]) -> list[str]:
        ids = await self._inner.enqueue(messages)
        if ids:
            self._enqueued.value = True
        return ids
