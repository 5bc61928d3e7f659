"""Transport helpers shared by the payment provider adapters (M-Pesa, MTN MoMo, Orange Money).

- :func:`send`: one exchange on the shared client with a per-call timeout; transport failures
  become :class:`~resolvers.payments.providers.ProviderUnavailable`, with ``request_sent``
  False only when the request certainly never reached the provider (connect refused or timed
  out, pool exhausted, refused by the outbound policy) and True otherwise (read timeout,
  connection dropped mid-answer: the outcome is unknown).
- :class:`TokenCache`: an OAuth client-credentials token, cached until shortly before it
  expires; one fetch at a time; :meth:`TokenCache.drop` forgets a token the provider refused.

Nothing here logs bodies, phone numbers or tokens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.http.outbound import OutboundRefused
from resolvers.payments.providers import ProviderUnavailable

log = logging.getLogger("cari.payments")

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
             httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(5.0, seconds))


async def send(http: httpx.AsyncClient, method: str, url: str, *, provider: str, what: str,
               timeout_seconds: float, **kwargs: Any) -> httpx.Response:
    """One HTTP exchange; transport failures translated into ``ProviderUnavailable``."""
    try:
        return await http.request(method, url, timeout=timeout(timeout_seconds), **kwargs)
    except OutboundRefused as exc:
        raise ProviderUnavailable(f"{provider}: outbound request refused: {exc}",
                                  request_sent=False) from None
    except _NOT_SENT as exc:
        raise ProviderUnavailable(f"{provider}: cannot reach the provider for {what} "
                                  f"({type(exc).__name__})", request_sent=False) from None
    except httpx.TimeoutException as exc:
        raise ProviderUnavailable(f"{provider}: no answer in time to {what} "
                                  f"({type(exc).__name__}); outcome unknown",
                                  request_sent=True) from None
    except httpx.TransportError as exc:
        raise ProviderUnavailable(f"{provider}: connection failed during {what} "
                                  f"({type(exc).__name__}); outcome unknown",
                                  request_sent=True) from None


def json_body(response: httpx.Response) -> Any:
    """The parsed JSON answer, or None when it is empty or not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def json_object(response: httpx.Response, *, provider: str, what: str) -> dict[str, Any]:
    """The answer's JSON object; ``ProviderUnavailable`` (outcome unknown) when it is not one."""
    body = json_body(response)
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"{provider}: answer to {what} is not a JSON object "
                                  f"(HTTP {response.status_code})", request_sent=True)
    return body


def lifetime_seconds(raw: object, default: float) -> float:
    """``expires_in`` as seconds; providers send numbers or strings ("3599")."""
    try:
        value = float(raw) if isinstance(raw, int | float | str) and not isinstance(raw, bool) \
            else default
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass
class _Token:
    value: str
    refresh_at: float


class TokenCache:
    """One OAuth token. ``fetch`` returns ``(access_token, lifetime_seconds)``; the token is
    renewed at lifetime minus ``margin_seconds`` (at most half of the lifetime)."""

    def __init__(self, fetch: Callable[[], Awaitable[tuple[str, float]]], *,
                 margin_seconds: float, clock: Callable[[], float]) -> None:
        self._fetch = fetch
        self._margin = margin_seconds
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def get(self) -> str:
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        async with self._lock:  # one fetch, however many callers are waiting
            token = self._token
            if token is None or self._clock() >= token.refresh_at:
                started = self._clock()
                value, lifetime = await self._fetch()
                self.fetches += 1
                token = self._token = _Token(value,
                                             started + lifetime - min(self._margin, lifetime / 2))
            return token.value

    def drop(self, value: str) -> None:
        """Forget the refused token ``value``, unless it was renewed already."""
        if self._token is not None and self._token.value == value:
            self._token = None
