"""What every fake provider has: a request log, fault and delay knobs, OAuth tokens, and a
callback sender that POSTs (or PUTs) to the gateway like the provider would.

Knobs (all settable per test, before or during it):

- ``fail(path, status, times=1, body=None)``: the next ``times`` requests to ``path`` (e.g.
  ``"/mpesa/stkpush/v1/processrequest"``) answer ``status`` with ``body`` (default: the
  provider's error shape). ``fail_after(path, ...)`` answers the error *after* processing
  the request (the money moved, the answer was lost).
- ``slow(path, seconds, times=1)``: the next ``times`` requests to ``path`` wait ``seconds``
  before answering (to trigger client read timeouts).
- ``expire_tokens()``: every token issued so far is refused from now on (provider's expired
  token error); ``token_lifetime`` sets ``expires_in`` of new tokens.
- ``requests`` / ``calls(path)``: every request received (method, path, headers, JSON body).
- ``callbacks``: every callback sent (url, method, body, the receiver's status or error).
  ``await settle()`` waits until all scheduled callbacks have been sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.support import serving_app


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any


@dataclass
class SentCallback:
    url: str
    method: str
    body: bytes
    status: int | None = None
    error: str | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Fault:
    status: int
    body: Any
    after: bool = False


@dataclass
class FakeProvider:
    """Base of the three fakes; subclasses add routes and the provider's error shapes."""

    base_url: str = ""
    token_lifetime: Any = 3600
    requests: list[Recorded] = field(default_factory=list)
    callbacks: list[SentCallback] = field(default_factory=list)
    tokens_issued: int = 0
    _faults: dict[str, deque[_Fault]] = field(default_factory=dict)
    _delays: dict[str, deque[float]] = field(default_factory=dict)
    _tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at (monotonic)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # ------------------------------------------------------------------ knobs

    def fail(self, path: str, status: int, *, times: int = 1, body: Any = None) -> None:
        for _ in range(times):
            self._faults.setdefault(path, deque()).append(_Fault(status, body))

    def fail_after(self, path: str, status: int, *, times: int = 1, body: Any = None) -> None:
        for _ in range(times):
            self._faults.setdefault(path, deque()).append(_Fault(status, body, after=True))

    def slow(self, path: str, seconds: float, *, times: int = 1) -> None:
        for _ in range(times):
            self._delays.setdefault(path, deque()).append(seconds)

    def expire_tokens(self) -> None:
        for token in self._tokens:
            self._tokens[token] = 0.0

    def calls(self, path: str, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests
                if r.path == path and (method is None or r.method == method)]

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every scheduled callback has been sent."""
        if self._tasks:
            await asyncio.wait_for(asyncio.gather(*list(self._tasks), return_exceptions=True),
                                   timeout)

    # ------------------------------------------------------------------ for subclasses

    def error_body(self, status: int) -> Any:  # overridden with the provider's shape
        return {"status": status}

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        lifetime = float(self.token_lifetime)
        self._tokens[token] = time.monotonic() + lifetime
        self.tokens_issued += 1
        return token

    def token_state(self, token: str | None) -> str:
        """"valid", "missing", "unknown" or "expired"."""
        if not token:
            return "missing"
        expires = self._tokens.get(token)
        if expires is None:
            return "unknown"
        return "valid" if time.monotonic() < expires else "expired"

    @staticmethod
    def bearer(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None

    async def gate(self, request: Request, key: str | None = None) -> tuple[Any, Response | None]:
        """Record the request, apply a delay and a before-fault. Returns (json body, fault)."""
        body = await request.body()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        self.requests.append(Recorded(request.method, request.url.path,
                                      {k.lower(): v for k, v in request.headers.items()},
                                      body, parsed))
        path = key or request.url.path
        delays = self._delays.get(path)
        if delays:
            await asyncio.sleep(delays.popleft())
        faults = self._faults.get(path)
        if faults and not faults[0].after:
            fault = faults.popleft()
            return parsed, self._fault_response(fault)
        return parsed, None

    def after_fault(self, request: Request, key: str | None = None) -> Response | None:
        faults = self._faults.get(key or request.url.path)
        if faults and faults[0].after:
            return self._fault_response(faults.popleft())
        return None

    def _fault_response(self, fault: _Fault) -> Response:
        body = fault.body if fault.body is not None else self.error_body(fault.status)
        return JSONResponse(body, status_code=fault.status)

    def send_callback(self, url: str, body: Mapping[str, Any], *, delay: float = 0.0,
                      copies: int = 1, concurrent: bool = False, method: str = "POST") -> None:
        """Deliver ``body`` to ``url`` ``copies`` times after ``delay`` seconds; no retry."""
        raw = json.dumps(body).encode()

        async def deliver_one(client: httpx.AsyncClient) -> None:
            sent = SentCallback(url, method, raw)
            self.callbacks.append(sent)
            try:
                response = await client.request(method, url, content=raw,
                                                 headers={"Content-Type": "application/json"})
                sent.status = response.status_code
            except httpx.HTTPError as exc:
                sent.error = type(exc).__name__

        async def deliver() -> None:
            await asyncio.sleep(delay)
            async with httpx.AsyncClient(timeout=10.0) as client:
                if concurrent:
                    await asyncio.gather(*(deliver_one(client) for _ in range(copies)))
                else:
                    for _ in range(copies):
                        await deliver_one(client)

        task = asyncio.get_running_loop().create_task(deliver())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def app(self) -> Starlette:  # pragma: no cover - overridden
        raise NotImplementedError


@contextlib.asynccontextmanager
async def serving(fake: FakeProvider) -> AsyncIterator[FakeProvider]:
    """Serve ``fake`` on a free loopback port; ``fake.base_url`` is set while it runs."""
    async with serving_app(fake.app()) as base_url:
        fake.base_url = base_url
        try:
            yield fake
        finally:
            for pending in list(fake._tasks):
                pending.cancel()


@dataclass
class CallbackSink:
    """The gateway's side in provider tests: records every callback it receives."""

    url: str = ""
    status: int = 200
    received: list[Recorded] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        self.received.append(Recorded(request.method, request.url.path, dict(request.headers),
                                      body, parsed))
        return JSONResponse({"ok": True}, status_code=self.status)

    def at(self, path: str) -> list[Recorded]:
        return [r for r in self.received if r.path == path]


@contextlib.asynccontextmanager
async def running_sink() -> AsyncIterator[CallbackSink]:
    from starlette.routing import Route

    sink = CallbackSink()
    app = Starlette(routes=[Route("/{rest:path}", sink.handle, methods=["POST", "PUT"])])
    async with serving_app(app) as base_url:
        sink.url = base_url
        yield sink


S = TypeVar("S")


class Scripts(Generic[S]):
    """Which scenario a new transaction follows: one set for its key (phone number or
    attempt id), else the next queued one, else ``default``."""

    def __init__(self, default: S) -> None:
        self.default = default
        self.by_key: dict[str, S] = {}
        self.queue: deque[S] = deque()

    def for_key(self, key: str, scenario: S) -> None:
        self.by_key[key] = scenario

    def next(self, *scenarios: S) -> None:
        self.queue.extend(scenarios)

    def pick(self, *keys: str) -> S:
        for key in keys:
            if key in self.by_key:
                return self.by_key[key]
        return self.queue.popleft() if self.queue else self.default
