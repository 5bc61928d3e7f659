"""Calling the ASGI app directly, to see how much of a request body it reads.

httpx's ASGITransport hands the app the whole body at once; these tests need to know
whether the app pulled any of it before answering, so they drive ``receive`` themselves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message


@dataclass
class ProbeResult:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    bytes_read: int = 0  # how much of the request body the app pulled from receive

    def json(self) -> Any:
        return json.loads(self.body)


async def probe(app: ASGIApp, method: str, path: str, *, headers: Sequence[tuple[str, str]] = (),
                chunks: Sequence[bytes] = (), query: str = "",
                client: str = "203.0.113.9") -> ProbeResult:
    """One request; ``chunks`` are offered one ``http.request`` message at a time."""
    result = ProbeResult()
    pending = list(chunks)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "client": (client, 50000),
        "server": ("testserver", 80),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
    }

    async def receive() -> Message:
        if not pending:
            return {"type": "http.disconnect"} if result.status else {
                "type": "http.request", "body": b"", "more_body": False}
        chunk = pending.pop(0)
        result.bytes_read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = {k.decode("latin-1"): v.decode("latin-1")
                              for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            result.body += message.get("body", b"")

    await app(scope, receive, send)
    return result
