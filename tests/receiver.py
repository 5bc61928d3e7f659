"""A real HTTP destination on loopback that records deliveries and fails on request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support import serving_app


@dataclass
class Receiver:
    url: str = ""
    fail_next: int = 0
    fail_status: int = 503
    delay_seconds: float = 0.0
    attempts: list[dict[str, Any]] = field(default_factory=list)
    accepted: dict[str, Any] = field(default_factory=dict)  # idempotency key -> body

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.json()
        # Outbox destinations send Idempotency-Key; webhook subscriptions webhook-id.
        key = request.headers.get("idempotency-key") or request.headers.get("webhook-id", "")
        self.attempts.append({"key": key, "body": body, "headers": dict(request.headers)})
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.fail_next > 0:
            self.fail_next -= 1
            return JSONResponse({"error": "unavailable"}, status_code=self.fail_status)
        self.accepted.setdefault(key, body)  # dedupe like a well-behaved destination
        return JSONResponse({"ok": True})


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/events", receiver.handle, methods=["POST"])])
    async with serving_app(app) as base_url:
        receiver.url = f"{base_url}/events"
        yield receiver


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def eventually(fetch: Any, predicate: Any, timeout: float = 10.0) -> Any:
    """Await ``fetch()`` until ``predicate(result)`` holds; return that result."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await fetch()
        if predicate(result):
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in time; last result: {result!r}")
        await asyncio.sleep(0.02)
