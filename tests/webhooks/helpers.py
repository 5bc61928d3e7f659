"""Shared test helpers: inbox queries over the admin API and direct row counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from resolvers.webhooks.model import WebhookEvent
from tests.receiver import eventually
from tests.support import Harness


async def inbox(h: Harness, **params: str) -> list[dict[str, Any]]:
    r = await h.client.get("/api/webhooks/events", params=params, headers=h.auth("admin"))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["data"]["items"]
    return items


async def settled(h: Harness, event_id: str, *statuses: str) -> dict[str, Any]:
    """Wait until the stored event reaches one of ``statuses``."""
    async def fetch() -> dict[str, Any]:
        r = await h.client.get(f"/api/webhooks/events/{event_id}", headers=h.auth("admin"))
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["data"]
        return data
    result: dict[str, Any] = await eventually(fetch, lambda e: e["status"] in statuses)
    return result


async def rows(h: Harness, table: str) -> list[dict[str, Any]]:
    async with h.engine.connect() as conn:
        result = await conn.execute(text(f"SELECT * FROM {table}"))
        return [dict(r) for r in result.mappings()]


class Recorder:
    """An event handler that remembers every call (optionally failing the first n)."""

    def __init__(self, fail_times: int = 0, error: Exception | None = None) -> None:
        self.calls: list[WebhookEvent] = []
        self.fail_times = fail_times
        self.error = error or RuntimeError("downstream unavailable")

    async def __call__(self, event: WebhookEvent) -> None:
        self.calls.append(event)
        if len(self.calls) <= self.fail_times:
            raise self.error
