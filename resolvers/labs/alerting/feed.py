"""The in-process alert feed: each listener has a bounded queue of its own.

On SQLite (one process) it is the feed; on PostgreSQL the LISTEN/NOTIFY adapter hands each
notification to one of these, so a process's subscribers share one database connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from resolvers.labs.alerting.model import RaisedAlert

log = logging.getLogger("cari.labs.alert_feed")
QUEUE_LIMIT = 1000  # a listener this far behind loses the oldest alerts (and it is logged)


class InMemoryAlertFeed:
    def __init__(self, queue_limit: int = QUEUE_LIMIT) -> None:
        self._queues: set[asyncio.Queue[RaisedAlert]] = set()
        self._limit = queue_limit

    @property
    def listeners(self) -> int:
        return len(self._queues)

    async def publish(self, alert: RaisedAlert) -> None:
        self.broadcast(alert)

    def broadcast(self, alert: RaisedAlert) -> None:
        for queue in self._queues:
            if queue.full():  # a stalled listener must not hold up the others
                queue.get_nowait()
                log.warning("a lab alert listener fell behind; its oldest alert was dropped")
            queue.put_nowait(alert)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[AsyncIterator[RaisedAlert]]:
        queue: asyncio.Queue[RaisedAlert] = asyncio.Queue(self._limit)
        self._queues.add(queue)

        async def alerts() -> AsyncIterator[RaisedAlert]:
            while True:
                yield await queue.get()

        try:
            yield alerts()
        finally:
            self._queues.discard(queue)
