"""A contract-faithful stand-in for the WhatsApp Cloud API (Meta Graph), over real HTTP.

It follows providers.md section 7: the send endpoint and its success and error shapes, the
template list, the 24-hour customer service window, the pair and throughput limits, and
webhook payloads in Meta's exact envelope, signed as Meta signs them (``X-Hub-Signature-256``
= ``sha256=`` + hex HMAC-SHA256 of the raw body keyed with the app secret).

Serve it with :func:`serving_graph` (a free loopback port; ``fake.base_url`` is set) and
point the gateway's ``CARI_WHATSAPP_GRAPH_URL`` at it.

Knobs (settable before or during a test):

- ``add_template(name, language, body, status=..., buttons=...)``: what the WABA has;
  placeholders ``{{1}}``.. in ``body`` (and ``header``) set the parameter counts it checks.
- ``slow(seconds, times)``, ``fail(status, times, code=...)``: the next sends wait / answer
  an error (5xx by default with Graph's error shape); ``drop(times)``: the next sends close
  the connection without an answer, *after* recording the message when ``after=True`` (the
  message went out, the answer was lost).
- ``expire_token()``: the current token is refused with code 190 (HTTP 401) until
  ``renew_token(new)`` or ``accept_token_again()``.
- ``mark_undeliverable(phone)``: sends to it fail with 131026.
- ``open_window(phone)``: the recipient wrote to us (free-form text allowed for 24 h).
- ``pair_interval`` / ``pair_burst``: per-recipient spacing (131056); ``throughput`` messages
  per second per number (130429); both use the fake's clock ``now`` (wall time unless set).
- ``accepted``: every accepted message (recipient, body, wamid); ``requests``: every request.

Webhook builders (``inbound_text``, ``button_reply``, ``interactive_reply``, ``status``) return
a payload dict; ``signed(payload)`` returns ``(raw, headers)`` ready to POST, and
``deliver(url, payload)`` POSTs it like Meta (tests/messaging/fake_graph_webhooks.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.messaging.fake_graph_webhooks import (
    WebhookPayloads,
    _digits,
    new_wamid,
)
from tests.support import serving_app

PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
WINDOW_SECONDS = 24 * 3600
APP_SECRET = "fake-graph-app-secret-0123456789"
ACCESS_TOKEN = "EAAG-fake-system-user-token"
PHONE_NUMBER_ID = "1122334455"
WABA_ID = "1029384756"
VERIFY_TOKEN = "fake-verify-token"


@dataclass
class FakeTemplate:
    name: str
    language: str
    body: str
    status: str = "APPROVED"  # APPROVED, PENDING, REJECTED, PAUSED
    category: str = "UTILITY"
    header: str | None = None
    buttons: tuple[str, ...] = ()  # quick-reply button texts
    id: str = field(default_factory=lambda: str(secrets.randbelow(10**15)))

    def placeholders(self, text: str | None) -> int:
        return len(set(PLACEHOLDER.findall(text or "")))

    def as_graph(self) -> dict[str, Any]:
        components: list[dict[str, Any]] = []
        if self.header is not None:
            components.append({"type": "HEADER", "format": "TEXT", "text": self.header})
        components.append({"type": "BODY", "text": self.body})
        if self.buttons:
            components.append({"type": "BUTTONS", "buttons": [
                {"type": "QUICK_REPLY", "text": text} for text in self.buttons]})
        return {"name": self.name, "language": self.language, "status": self.status,
                "category": self.category, "id": self.id, "components": components}


@dataclass
class Accepted:
    wamid: str
    to: str
    body: dict[str, Any]
    at: float

    @property
    def type(self) -> str:
        return str(self.body.get("type", "text"))

    @property
    def template_name(self) -> str | None:
        template = self.body.get("template")
        return str(template["name"]) if isinstance(template, dict) else None

    @property
    def text(self) -> str | None:
        text = self.body.get("text")
        return str(text.get("body")) if isinstance(text, dict) else None


@dataclass
class GraphRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class _Fault:
    status: int
    code: int
    message: str


class GraphError(Exception):
    def __init__(self, status: int, code: int, message: str, title: str = "",
                 details: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.title, self.details = title or message, details or message


def graph_error_body(code: int, message: str, details: str = "",
                     kind: str = "OAuthException") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code,
                      "error_subcode": None if code != 190 else 463,
                      "error_data": {"messaging_product": "whatsapp",
                                     "details": details or message},
                      "fbtrace_id": "A" + secrets.token_hex(8)}}


@dataclass
class FakeGraph(WebhookPayloads):
    base_url: str = ""
    app_secret: str = APP_SECRET
    token: str = ACCESS_TOKEN
    phone_number_id: str = PHONE_NUMBER_ID
    waba_id: str = WABA_ID
    page_size: int = 2
    pair_interval: float = 6.0
    pair_burst: int = 2
    throughput: float = 80.0
    clock: Callable[[], float] = time.time
    templates: list[FakeTemplate] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    requests: list[GraphRequest] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)  # (to, code)
    undeliverable: set[str] = field(default_factory=set)
    windows: dict[str, float] = field(default_factory=dict)  # wa_id -> last inbound (epoch)
    _expired: set[str] = field(default_factory=set)
    _delays: deque[float] = field(default_factory=deque)
    _faults: deque[_Fault] = field(default_factory=deque)
    _drops: deque[bool] = field(default_factory=deque)  # True: after recording
    _pair: dict[str, deque[float]] = field(default_factory=dict)
    _sent_times: deque[float] = field(default_factory=deque)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # ------------------------------------------------------------------ knobs

    def add_template(self, name: str, language: str, body: str, *, status: str = "APPROVED",
                     category: str = "UTILITY", header: str | None = None,
                     buttons: tuple[str, ...] = ()) -> FakeTemplate:
        template = FakeTemplate(name, language, body, status, category, header, buttons)
        self.templates = [t for t in self.templates
                          if (t.name, t.language) != (name, language)] + [template]
        return template

    def set_status(self, name: str, language: str, status: str) -> None:
        for template in self.templates:
            if (template.name, template.language) == (name, language):
                template.status = status

    def slow(self, seconds: float, *, times: int = 1) -> None:
        self._delays.extend([seconds] * times)

    def fail(self, status: int = 500, *, times: int = 1, code: int = 2,
             message: str = "Service temporarily unavailable") -> None:
        self._faults.extend([_Fault(status, code, message)] * times)

    def drop(self, *, times: int = 1, after: bool = False) -> None:
        self._drops.extend([after] * times)

    def expire_token(self) -> None:
        self._expired.add(self.token)

    def renew_token(self, token: str) -> None:
        self.token = token

    def accept_token_again(self) -> None:
        """The operator renewed the token in Meta's console (same value in our settings)."""
        self._expired.discard(self.token)

    def mark_undeliverable(self, phone: str) -> None:
        self.undeliverable.add(_digits(phone))

    def open_window(self, phone: str, at: float | None = None) -> None:
        self.windows[_digits(phone)] = self.clock() if at is None else at

    def sent_to(self, phone: str) -> list[Accepted]:
        return [a for a in self.accepted if a.to == _digits(phone)]

    # ------------------------------------------------------------------ HTTP

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/{version}/{node}/messages", self._send, methods=["POST"]),
            Route("/{version}/{node}/message_templates", self._templates, methods=["GET"]),
        ])

    async def _record(self, request: Request) -> bytes:
        body = await request.body()
        self.requests.append(GraphRequest(request.method, request.url.path,
                                          {k.lower(): v for k, v in request.headers.items()},
                                          body))
        return body

    def _check_token(self, request: Request) -> JSONResponse | None:
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        if token in self._expired or (token and token != self.token):
            return JSONResponse(graph_error_body(
                190, "Error validating access token: Session has expired"), status_code=401)
        if not token:
            return JSONResponse(graph_error_body(
                190, "An active access token must be used to query information."),
                status_code=401)
        return None

    async def _templates(self, request: Request) -> Response:
        await self._record(request)
        if (refused := self._check_token(request)) is not None:
            return refused
        if request.path_params["node"] != self.waba_id:
            return JSONResponse(graph_error_body(100, "Unsupported get request.",
                                                 kind="GraphMethodException"), status_code=400)
        limit = int(request.query_params.get("limit", self.page_size))
        start = int(request.query_params.get("after", "0") or 0)
        page = self.templates[start:start + limit]
        body: dict[str, Any] = {"data": [t.as_graph() for t in page],
                                "paging": {"cursors": {"before": str(start),
                                                       "after": str(start + len(page))}}}
        if start + limit < len(self.templates):
            body["paging"]["next"] = (f"{self.base_url}{request.url.path}"
                                      f"?limit={limit}&after={start + limit}")
        return JSONResponse(body)

    async def _send(self, request: Request) -> Response:
        raw = await self._record(request)
        if self._delays:
            await asyncio.sleep(self._delays.popleft())
        if self._faults:
            fault = self._faults.popleft()
            return JSONResponse(graph_error_body(fault.code, fault.message),
                                status_code=fault.status)
        drop_after = self._drops.popleft() if self._drops else None
        if drop_after is False:
            return _Dropped()
        if (refused := self._check_token(request)) is not None:
            return refused
        if request.path_params["node"] != self.phone_number_id:
            return JSONResponse(graph_error_body(100, "Unsupported post request.",
                                                 kind="GraphMethodException"), status_code=400)
        try:
            body = json.loads(raw)
            async with self._lock:
                accepted = self._accept(body)
        except (ValueError, KeyError, TypeError, AttributeError):
            return JSONResponse(graph_error_body(100, "Invalid parameter"), status_code=400)
        except GraphError as exc:
            self.refused.append((_digits(str(body.get("to", ""))), exc.code))
            return JSONResponse(graph_error_body(exc.code, exc.title, exc.details),
                                status_code=exc.status)
        if drop_after:
            return _Dropped()
        return JSONResponse({"messaging_product": "whatsapp",
                             "contacts": [{"input": body["to"], "wa_id": accepted.to}],
                             "messages": [{"id": accepted.wamid,
                                           "message_status": "accepted"}]})

    def _accept(self, body: dict[str, Any]) -> Accepted:
        if body.get("messaging_product") != "whatsapp":
            raise GraphError(400, 100, "Invalid parameter", details="messaging_product")
        to = _digits(str(body["to"]))
        if not to:
            raise GraphError(400, 100, "Invalid parameter", details="to")
        kind = body.get("type", "text")
        if kind == "template":
            self._check_template(body["template"])
        elif kind == "text":
            if not str(body["text"]["body"]).strip():
                raise GraphError(400, 100, "Invalid parameter", details="text.body")
        else:
            raise GraphError(400, 131051, "Unsupported message type")
        if to in self.undeliverable:
            raise GraphError(400, 131026, "Message undeliverable",
                             details="Message undeliverable.")
        now = self.clock()
        if kind != "template" and now - self.windows.get(to, -1e18) > WINDOW_SECONDS:
            raise GraphError(400, 131047, "Re-engagement message", details=(
                "More than 24 hours have passed since the recipient last replied to the "
                "sender number."))
        while self._sent_times and now - self._sent_times[0] >= 1.0:
            self._sent_times.popleft()
        if len(self._sent_times) >= self.throughput:
            raise GraphError(400, 130429, "Rate limit hit",
                             details="Cloud API message throughput has been reached.")
        recent = self._pair.setdefault(to, deque())
        while recent and now - recent[0] >= self.pair_interval * self.pair_burst:
            recent.popleft()
        if len(recent) >= self.pair_burst:
            raise GraphError(400, 131056, "(Business Account, Consumer Account) pair rate "
                             "limit hit", details="Message failed to send because there "
                             "were too many messages sent from this phone number to the "
                             "same phone number in a short period of time.")
        recent.append(now)
        self._sent_times.append(now)
        accepted = Accepted(new_wamid(), to, body, now)
        self.accepted.append(accepted)
        return accepted

    def _check_template(self, call: dict[str, Any]) -> None:
        name, language = call["name"], call["language"]["code"]
        template = next((t for t in self.templates
                         if (t.name, t.language) == (name, language)), None)
        if template is None:
            raise GraphError(404, 132001, "Template name does not exist in the translation",
                             details=f"template name ({name}) does not exist in {language}")
        if template.status != "APPROVED":
            raise GraphError(400, 132015 if template.status == "PAUSED" else 132001,
                             f"Template is {template.status.lower()}")
        given: dict[str, int] = {}
        for component in call.get("components", []):
            kind = component["type"]
            if kind == "button":
                continue
            for parameter in component.get("parameters", []):
                if parameter["type"] == "text" and not str(parameter["text"]).strip():
                    raise GraphError(400, 132012, "Parameter format does not match format "
                                     "in the created template")
            given[kind] = given.get(kind, 0) + len(component.get("parameters", []))
        for kind, text in (("body", template.body), ("header", template.header)):
            if given.get(kind, 0) != template.placeholders(text):
                raise GraphError(400, 132000, "Number of parameters does not match the "
                                 "expected number of params", details=(
                                     f"{kind}: number of localizable_params "
                                     f"({given.get(kind, 0)}) does not match the expected "
                                     f"number of params ({template.placeholders(text)})"))


class _Dropped(Response):
    """Starts an answer and closes the connection mid-way: the client gets no response."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"4096")]})
        raise ConnectionAbortedError("connection dropped by the fake Graph API")


@contextlib.asynccontextmanager
async def serving_graph(fake: FakeGraph | None = None) -> AsyncIterator[FakeGraph]:
    fake = fake or FakeGraph()
    async with serving_app(fake.app()) as base_url:
        fake.base_url = base_url
        yield fake
