"""Readiness probe: the database answers a trivial query within a short time."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("cari.health")


class DatabaseHealth:
    def __init__(self, engine: AsyncEngine, timeout_seconds: float = 2.0) -> None:
        self._engine = engine
        self._timeout = timeout_seconds

    async def ready(self) -> dict[str, str]:
        try:
            async with asyncio.timeout(self._timeout):
                async with self._engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means "not ready"; the reason goes to the log
            log.warning("database not ready", extra={"error_type": type(exc).__name__})
            return {"database": "unavailable"}
        return {"database": "ok"}
