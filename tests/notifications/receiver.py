"""A real HTTP receiver of signed webhooks on loopback: records every request (raw body and
headers) per path, answers as told, and verifies signatures with ``svix`` on request."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from svix.webhooks import Webhook

from tests.support import serving_app


@dataclass
class Hit:
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded

    def verifies_with(self, secret: str) -> bool:
        try:
            Webhook(secret).verify(self.body, self.headers)
        except Exception:
            return False
        return True


@dataclass
class Hook:
    """One path of the receiver: what it answers and what it got."""

    fail_next: int = 0
    status: int = 503  # of a failure
    always: int | None = None  # answer this to everything
    hits: list[Hit] = field(default_factory=list)

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Successful deliveries' bodies (deduplicated on webhook-id, as a consumer does)."""
        seen: dict[str, dict[str, Any]] = {}
        for hit in self.ok_hits:
            seen.setdefault(hit.headers["webhook-id"], hit.json)
        return [e for e in seen.values() if event_type is None or e["type"] == event_type]

    ok_hits: list[Hit] = field(default_factory=list)


@dataclass
class WebhookReceiver:
    base_url: str = ""
    hooks: dict[str, Hook] = field(default_factory=dict)

    def url(self, name: str) -> str:
        self.hooks.setdefault(name, Hook())
        return f"{self.base_url}/hooks/{name}"

    def hook(self, name: str) -> Hook:
        return self.hooks.setdefault(name, Hook())

    async def handle(self, request: Request) -> Response:
        hook = self.hook(request.path_params["name"])
        hit = Hit(await request.body(), dict(request.headers))
        hook.hits.append(hit)
        if hook.always is not None:
            status = hook.always
        elif hook.fail_next > 0:
            hook.fail_next -= 1
            status = hook.status
        else:
            status = 200
        if 200 <= status < 300:
            hook.ok_hits.append(hit)
        return JSONResponse({"status": status, "note": "x" * 3000}, status_code=status)


@contextlib.asynccontextmanager
async def running_webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    app = Starlette(routes=[Route("/hooks/{name}", receiver.handle, methods=["POST"])])
    async with serving_app(app) as base_url:
        receiver.base_url = base_url
        yield receiver
