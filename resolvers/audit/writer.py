"""Audit records of reads, written in shared commits (the lab ingest's GroupCommit).

A read that writes nothing but its audit records used to open a write transaction of its
own; on SQLite that took the one write lock for the whole read, so reads queued behind each
other and behind every write. Now the read runs on a read-only unit of work, then hands its
records here and waits for the commit that holds them: the answer still leaves only after
its audit row is durable, and readers that arrive together share one INSERT and one commit.
A commit that fails is retried job by job (GroupCommit), so one bad record fails only its
own read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Hashable, Sequence

from resolvers.audit.model import AuditRecord
from resolvers.audit.ports import AuditUnitOfWorkFactory
from resolvers.group_commit import GroupCommit

Job = Sequence[AuditRecord]
NO_CONFLICTS: frozenset[Hashable] = frozenset()  # audit rows are append-only: any may share


class GroupedAuditWriter:
    def __init__(self, uow_factory: AuditUnitOfWorkFactory, *, max_parallel: int = 1,
                 max_batch: int = 256) -> None:
        self._uow_factory = uow_factory
        self._commits: GroupCommit[Job, None] = GroupCommit(
            write=self._write, conflict_keys=lambda _job: NO_CONFLICTS,
            max_batch=max_batch, max_parallel=max_parallel)
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def record(self, records: Sequence[AuditRecord]) -> None:
        """Returns once ``records`` are committed (with whatever else shared the commit)."""
        if not records:
            return
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._commits.submit(records)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def drain(self, seconds: float) -> None:
        """At shutdown: let the commits in progress finish (their readers are waiting)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._idle.wait()

    async def _write(self, jobs: Sequence[Job]) -> list[BaseException | None]:
        async with self._uow_factory() as uow:
            await uow.audit.append([record for job in jobs for record in job])
            await uow.commit()
        return [None] * len(jobs)
