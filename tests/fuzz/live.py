"""The whole app in a background event loop, so synchronous Hypothesis tests can call it.

Hypothesis drives plain functions; the gateway is async. One app per database is started
once per module in its own thread and every example is a coroutine run on that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import text
from sqlmodel import SQLModel

from adapters.settings import Settings
from tests.support import Harness, free_port, fresh_postgres_database, make_settings, running_app
from tests.webhooks.signing import WEBHOOK_ENV

T = TypeVar("T")


class LiveApp:
    def __init__(self, harness: Harness, loop: asyncio.AbstractEventLoop) -> None:
        self.harness = harness
        self._loop = loop

    def run(self, make: Callable[[Harness], Awaitable[T]]) -> T:
        async def call() -> T:
            return await make(self.harness)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=120)

    def rows_with_forbidden_text(self) -> list[tuple[str, str]]:
        """(table, column) of every stored text holding a NUL (raw or JSON-escaped) or a lone
        surrogate: what must never be stored."""
        return self.run(_forbidden_rows)


async def _forbidden_rows(h: Harness) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    async with h.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c.name for c in table.columns]
            rows = (await conn.execute(text(f'SELECT * FROM "{table.name}"'))).all()
            for row in rows:
                for name, value in zip(columns, row, strict=True):
                    if _forbidden(value):
                        found.append((table.name, f"{name}={str(value)[:120]!r}"))
    return found


def _forbidden(value: object) -> bool:
    """A NUL or a lone surrogate anywhere in a stored value (JSON documents decoded first,
    so an escaped ``\\u0000`` counts and the text ``\\\\u0000`` does not)."""
    if isinstance(value, str):
        if value[:1] in ("{", "["):
            try:
                return _forbidden(json.loads(value))
            except ValueError:
                pass
        return "\x00" in value or not _encodable(value)
    if isinstance(value, dict):
        return any(_forbidden(k) or _forbidden(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_forbidden(v) for v in value)
    return False


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_rate_limits(settings: Settings) -> Settings:
    # Thousands of requests from one client in a minute are the point here.
    off: dict[str, Any] = {name: 0 for name in ("rate_limit_per_minute", "rate_limit_webhook_per_minute")
           if name in {f.name for f in dataclasses.fields(settings)}}
    return dataclasses.replace(settings, **off)


@contextlib.contextmanager
def live_app(tmp: Path, database: str, *, mllp: bool = False) -> Iterator[LiveApp]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ready: asyncio.Future[Harness] = loop.create_future()
    stop = asyncio.Event()

    async def serve() -> None:
        async with _database(tmp, database) as url:
            extra: dict[str, Any] = {"mllp_port": free_port(), "mllp_host": "127.0.0.1"} \
                if mllp else {}
            settings = _no_rate_limits(make_settings(tmp / "var", url, **WEBHOOK_ENV, **extra))
            async with running_app(settings) as harness:
                ready.set_result(harness)
                await stop.wait()

    task = asyncio.run_coroutine_threadsafe(serve(), loop)
    try:
        harness = asyncio.run_coroutine_threadsafe(_wait(ready), loop).result(timeout=120)
        yield LiveApp(harness, loop)
    finally:
        loop.call_soon_threadsafe(stop.set)
        task.result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


async def _wait(ready: asyncio.Future[Harness]) -> Harness:
    return await ready


@contextlib.asynccontextmanager
async def _database(tmp: Path, database: str) -> AsyncIterator[str]:
    if database == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'fuzz.sqlite3'}"
    else:
        async with fresh_postgres_database() as url:
            yield url
