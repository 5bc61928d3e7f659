"""The alert feed across gateway processes on PostgreSQL: LISTEN/NOTIFY.

``publish`` runs ``pg_notify`` on a pooled connection after the alert's commit; every
process (this one too) hears it on its own listening connection and hands it to its local
:class:`InMemoryAlertFeed`, so a process's subscribers share one database connection. The
listening connection is owned by the gateway's lifespan (:meth:`run`) and reopened after a
failure; notifications sent while it was down are lost to live subscribers (the alert is
still listed, delivered on its channels and escalated: the feed is for screens, not for
delivery guarantees).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs; used through Any
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from resolvers.labs.alerting.model import RaisedAlert
from resolvers.labs.alerting.ports import LabAlertFeed

log = logging.getLogger("cari.labs.alert_feed")
CHANNEL = "cari_lab_alerts"
RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
APPLICATION_NAME = "cari-lab-alert-feed"  # the listening connection, in pg_stat_activity


class PostgresAlertFeed:
    def __init__(self, engine: AsyncEngine, local: LabAlertFeed) -> None:
        self._engine = engine
        self._local = local
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self.connected = asyncio.Event()  # set while the listening connection is open

    async def publish(self, alert: RaisedAlert) -> None:
        payload = json.dumps(alert.to_json(), separators=(",", ":"))
        async with self._engine.begin() as conn:
            await conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                               {"channel": CHANNEL, "payload": payload})

    def listen(self) -> contextlib.AbstractAsyncContextManager[AsyncIterator[RaisedAlert]]:
        return self._local.listen()

    def _received(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            alert = RaisedAlert.from_json(json.loads(payload))
        except (ValueError, KeyError, TypeError):
            log.warning("an unreadable lab alert notification was ignored")
            return
        # The local feed's publish only queues: it finishes without awaiting anything.
        task = asyncio.get_running_loop().create_task(self._local.publish(alert))
        task.add_done_callback(_log_failure)

    async def run(self, stop: asyncio.Event) -> None:
        """Hold the listening connection until ``stop``; reconnect after failures."""
        failures = 0
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(self._dsn, server_settings={
                    "application_name": APPLICATION_NAME})
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("lab alert feed: cannot connect to listen", exc_info=exc)
            else:
                failures = 0
                await self._hold(conn, stop)
            if stop.is_set():
                return
            delay = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
            failures += 1
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)


    async def _hold(self, conn: Any, stop: asyncio.Event) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        try:
            await conn.add_listener(CHANNEL, self._received)
            self.connected.set()
            await _first(stop.wait(), lost.wait())
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("lab alert feed: the listening connection failed", exc_info=exc)
        finally:
            self.connected.clear()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)


async def _first(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("a lab alert notification could not be passed on",
                    exc_info=task.exception())
