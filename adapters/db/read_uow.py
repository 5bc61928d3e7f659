"""SqlReadUnitOfWork: the repositories reads use, on a ReadConnection (Core, no Session).

Use cases open it through their ``reads`` factory for work that writes nothing in its unit
of work (their audit rows go through the grouped audit writer). It offers the same
repositories as :class:`adapters.db.uow.SqlUnitOfWork`; the outbox and the match index, which
no read touches, refuse loudly instead of writing through a read-only connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, NoReturn, Self, cast

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from adapters.db.audit import SqlAuditLog
from adapters.db.fhir_store import SqlFhirRepository
from adapters.db.labs import SqlLabRepository
from adapters.db.organizations import SqlOrganizationRepository
from adapters.db.patients import SqlPatientRepository
from adapters.db.read_connection import ReadConnection, StatementReader
from resolvers.outbox.model import NewOutboxMessage


class ReadOnlyUnitOfWork(TypeError):
    """A write was attempted through a read unit of work (a bug in the use case)."""


class _NoOutbox:
    async def enqueue(self, messages: Sequence[NewOutboxMessage]) -> NoReturn:
        raise ReadOnlyUnitOfWork("a read unit of work does not enqueue outbox messages")


class _NoMatchIndex:
    async def candidates(self, record: Any, *, max_candidates: int = 0) -> NoReturn:
        raise ReadOnlyUnitOfWork("matching runs in the write unit of work")


class SqlReadUnitOfWork:
    def __init__(self, engine: AsyncEngine, reader: StatementReader | None = None) -> None:
        self._engine = engine
        self._reader = reader

    async def __aenter__(self) -> Self:
        self._conn = ReadConnection(self._engine, self._reader)
        # The repositories' read methods call only ``execute`` (and ``bind``, for the
        # dialect), which a ReadConnection has as an AsyncSession does; their hot lookups
        # take its driver path (adapters/db/read_connection.fetch_keys).
        session = cast(AsyncSession, self._conn)
        self.patients = SqlPatientRepository(session)
        self.organizations = SqlOrganizationRepository(session)
        self.audit = SqlAuditLog(session)
        self.fhir = SqlFhirRepository(session)
        self.labs = SqlLabRepository(session)
        self.outbox = _NoOutbox()
        self.match_index = _NoMatchIndex()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._conn.close()  # the pool resets (rolls back) what was read

    async def commit(self) -> None:
        await self._conn.commit()

    async def rollback(self) -> None:
        await self._conn.rollback()
