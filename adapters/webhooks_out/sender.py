"""One POST of a signed webhook, on the shared client: its transport checks the URL against
the outbound policy on every request (not only when the endpoint was saved), resolves the
host once and connects to the address it checked (adapters/http/pinning.py), so DNS
rebinding cannot turn an endpoint into a request to the gateway's own network."""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from adapters.http.outbound import OutboundRefused
from adapters.http.pinning import UncheckedConnection
from resolvers.notifications.model import SendResult

EXCERPT_BYTES = 4096  # of a response body kept for the delivery log (the log cuts further)


class HttpWebhookSender:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, url: str, body: bytes, headers: Mapping[str, str],
                   timeout_seconds: float) -> SendResult:
        started = time.perf_counter()

        def elapsed() -> float:
            return (time.perf_counter() - started) * 1000

        try:
            async with self._client.stream("POST", url, content=body, headers=dict(headers),
                                           timeout=timeout_seconds) as response:
                excerpt = b""
                async for chunk in response.aiter_bytes():
                    excerpt += chunk
                    if len(excerpt) >= EXCERPT_BYTES:
                        break
                return SendResult(response.status_code, elapsed(),
                                  excerpt[:EXCERPT_BYTES].decode("utf-8", "replace"))
        except (OutboundRefused, UncheckedConnection) as exc:
            return SendResult(None, elapsed(), error=f"refused by the outbound policy: {exc}")
        except httpx.TimeoutException:
            return SendResult(None, elapsed(), error=f"no answer within {timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return SendResult(None, elapsed(), error=f"{type(exc).__name__}: {exc}"[:500])
