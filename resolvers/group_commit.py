"""GroupCommit: requests that arrive together are written together, in one transaction.

Each caller still waits for the commit that holds its own work (commit before acknowledge);
what is shared is the transaction and its multi-row statements. There is no timer: when the
writer is idle a job is written at once, alone; while a transaction is running, newcomers
queue and the next transaction takes all of them. So an idle gateway adds no latency and a
busy one writes in batches as large as its load (throughput then grows with concurrency
instead of being capped by per-statement cost).

Jobs that touch the same things (the same message, the same result identifiers) never share
a transaction or run in two at once: the later one waits for the next round, so it sees what
the earlier one stored. If a shared transaction fails, every job of it is retried alone, so
one bad job fails only its own caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger("cari.group_commit")

J = TypeVar("J")
R = TypeVar("R")

@dataclass
class _Pending(Generic[J, R]):
    job: J
    keys: frozenset[Hashable]
    future: asyncio.Future[R]


@dataclass
class GroupCommit(Generic[J, R]):
    # Writes a batch in one transaction; answers, per job and in order, its result or the
    # exception that job ended in (a job's own error must not fail the others).
    write: Callable[[Sequence[J]], Awaitable[Sequence[R | BaseException]]]
    conflict_keys: Callable[[J], frozenset[Hashable]]
    max_batch: int = 64
    max_parallel: int = 1  # 1 for SQLite (one writer); a few for PostgreSQL
    _queue: deque[_Pending[J, R]] = field(default_factory=deque)
    _busy_keys: set[Hashable] = field(default_factory=set)
    _running: set[asyncio.Task[None]] = field(default_factory=set)

    async def submit(self, job: J) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(job, self.conflict_keys(job), future))
        self._dispatch()
        # A caller that goes away does not cancel the write: its job is committed anyway,
        # and sending the message again answers with that first result.
        return await asyncio.shield(future)

    def _dispatch(self) -> None:
        while self._queue and len(self._running) < self.max_parallel:
            batch = self._take()
            if not batch:
                return  # everything queued conflicts with a running batch: wait for it
            task = asyncio.create_task(self._run(batch), name="group-commit")
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _take(self) -> list[_Pending[J, R]]:
        batch: list[_Pending[J, R]] = []
        taken: set[Hashable] = set()
        kept: deque[_Pending[J, R]] = deque()
        while self._queue and len(batch) < self.max_batch:
            pending = self._queue.popleft()
            if pending.future.done():
                continue
            if pending.keys & taken or pending.keys & self._busy_keys:
                kept.append(pending)  # next round, after the job it conflicts with
                continue
            batch.append(pending)
            taken |= pending.keys
        self._queue.extendleft(reversed(kept))
        self._busy_keys |= taken
        return batch

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("group commit task failed", exc_info=task.exception())
        self._dispatch()

    async def _run(self, batch: list[_Pending[J, R]]) -> None:
        try:
            try:
                outcomes = await self.write([p.job for p in batch])
            except Exception as exc:  # isolate the job that caused it
                if len(batch) == 1:
                    outcomes = [exc]
                else:
                    log.warning("shared transaction failed; writing its %d jobs one by one",
                                len(batch), extra={"error": type(exc).__name__})
                    outcomes = [await self._alone(p.job) for p in batch]
            for pending, outcome in zip(batch, outcomes, strict=True):
                if pending.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    pending.future.set_exception(outcome)
                else:
                    pending.future.set_result(outcome)
        except BaseException as exc:  # cancelled at shutdown, or a bug: never strand a caller
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc if isinstance(exc, Exception)
                                                 else RuntimeError("the writer stopped"))
            raise
        finally:
            for pending in batch:
                self._busy_keys -= pending.keys

    async def _alone(self, job: J) -> R | BaseException:
        try:
            return (await self.write([job]))[0]
        except Exception as exc:  # handed to that job's caller
            return exc
