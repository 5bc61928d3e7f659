"""Pure ASGI middleware: request id, access log and metrics for every HTTP request."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Protocol

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rest_compat.errors import unexpected_error_handler

log = logging.getLogger("cari.access")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestMetrics(Protocol):
    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None: ...


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = next((v.decode("latin-1") for k, v in scope["headers"]
                         if k == b"x-request-id"), "")
        request_id = supplied if _VALID_REQUEST_ID.match(supplied) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Answer here rather than in Starlette's ServerErrorMiddleware, which re-raises to
            # the server; the server would then log the exception text, which may hold data.
            if response_started:
                raise
            response = await unexpected_error_handler(Request(scope, receive), exc)
            await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            # The template (/api/patients/{id}), never the raw path: paths carry identifiers.
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], template, status, elapsed)
            log.info("request", extra={
                "request_id": request_id, "method": scope["method"], "route": template,
                "status": status, "duration_ms": round(elapsed * 1000, 2),
                "subject": scope["state"].get("subject"),
            })
