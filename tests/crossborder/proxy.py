"""A small HTTP proxy the tests put in front of an HIE stand-in, to make it misbehave.

Modes: ``pass`` (forward as is), ``delay`` (wait ``delay`` seconds, then forward),
``malformed`` (forward, then answer 200 with a body that is not JSON), ``status`` (answer
``status`` to FHIR requests without forwarding them; token requests pass). It serves one
request per connection (``Connection: close``) and runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx


@dataclass
class Proxy:
    upstream: str
    port: int = 0
    mode: str = "pass"
    delay: float = 0.0
    status: int = 500
    seen: int = 0
    rewrite: Callable[[str], str] | None = None  # applied to 200 FHIR answers
    scheme: str = "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def set(self, mode: str, *, delay: float = 0.0, status: int = 500) -> None:
        self.mode, self.delay, self.status = mode, delay, status

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            length = int(headers.get("Content-Length") or headers.get("content-length") or 0)
            body = await reader.readexactly(length) if length else b""
            self.seen += 1
            status, content, ctype = await self._answer(method, target, headers, body)
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\n"
                         f"Content-Length: {len(content)}\r\nConnection: close\r\n\r\n".encode()
                         + content)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, method: str, target: str, headers: dict[str, str],
                      body: bytes) -> tuple[int, bytes, str]:
        if self.mode == "status" and "/fhir/" in target:
            return self.status, b'{"resourceType":"OperationOutcome","issue":[]}', \
                "application/fhir+json"
        if self.mode == "delay":
            await asyncio.sleep(self.delay)
        forwarded = {k: v for k, v in headers.items()
                     if k.lower() in ("authorization", "accept", "content-type")}
        async with httpx.AsyncClient() as client:
            response = await client.request(method, self.upstream + target, headers=forwarded,
                                             content=body, timeout=30)
        if self.mode == "malformed" and response.status_code == 200 and "/fhir/" in target:
            return 200, b'{"resourceType": "Bundle", "entry": [', "application/fhir+json"
        if self.rewrite is not None and response.status_code == 200 and "/fhir/" in target:
            return 200, self.rewrite(response.text).encode(), "application/fhir+json"
        return response.status_code, response.content, response.headers.get(
            "content-type", "application/json")


@contextlib.asynccontextmanager
async def running_proxy(upstream: str,
                        tls: ssl.SSLContext | None = None) -> AsyncIterator[Proxy]:
    """The proxy on a free port; with ``tls``, it speaks HTTPS (base_url says so)."""
    proxy = Proxy(upstream, scheme="https" if tls is not None else "http")
    server = await asyncio.start_server(proxy._handle, "127.0.0.1", 0, ssl=tls)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)
