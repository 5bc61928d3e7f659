"""Helpers of the webhook subscription tests: an app allowed to reach the local receiver,
subscribing endpoints, waiting for the worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from adapters.settings.webhooks_out import WebhookOutSettings
from tests.receiver import wait_for
from tests.support import Harness, make_settings, running_app

BASE = "/api/webhooks/endpoints"
FAST_SCHEDULE = (0.05, 0.1, 0.1, 0.1, 0.1)  # six attempts within half a second


@contextlib.asynccontextmanager
async def webhook_app(tmp_path: Path, database_url: str, *,
                      payments_reconcile_seconds: float | None = None,
                      settings_changes: dict[str, Any] | None = None, **webhooks: Any,
                      ) -> AsyncIterator[Harness]:
    """The gateway allowed to reach loopback; ``webhooks`` are WebhookOutSettings fields,
    ``settings_changes`` other Settings fields."""
    out = WebhookOutSettings(**{"retry_schedule": FAST_SCHEDULE, "timeout_seconds": 5.0,
                                **webhooks})
    extra = dict(settings_changes or {})
    if payments_reconcile_seconds is not None:
        extra["payments_reconcile_seconds"] = payments_reconcile_seconds
    settings = make_settings(tmp_path / "var", database_url,
                             outbound_allowlist=("127.0.0.1",), webhooks_out=out, **extra)
    async with running_app(settings) as harness:
        yield harness


async def subscribe(h: Harness, url: str, event_types: list[str] | None = None,
                    **body: Any) -> dict[str, Any]:
    response = await h.client.post(BASE, json={"url": url, "event_types": event_types or ["*"],
                                               **body}, headers=h.auth("integrator"))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def deliveries(h: Harness, endpoint_id: str, **params: str) -> list[dict[str, Any]]:
    response = await h.client.get(f"{BASE}/{endpoint_id}/deliveries", params=params,
                                  headers=h.auth("integrator"))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]["items"]
    return items


async def settled(h: Harness, endpoint_id: str, count: int, status: str = "succeeded",
                  timeout: float = 15.0) -> list[dict[str, Any]]:
    """Wait until ``count`` deliveries of the endpoint have ``status``; return them all."""
    found: list[dict[str, Any]] = []

    async def check() -> bool:
        nonlocal found
        found = await deliveries(h, endpoint_id)
        return len([d for d in found if d["status"] == status]) >= count

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not {count} {status} deliveries: {found}")
        await asyncio.sleep(0.05)
    return found


__all__ = ["BASE", "FAST_SCHEDULE", "deliveries", "settled", "subscribe", "wait_for",
           "webhook_app"]
