"""An OAuth access token, cached until shortly before it expires.

One class for every adapter that calls an API with client-credentials tokens (the payment
providers, Medplum): they differ in how a token is fetched and in which answer means "token
refused", never in how the token is kept. Each adapter passes its own ``fetch``; this class
holds the token, renews it at its lifetime minus a margin (at most half of the lifetime, so a
short-lived token is not fetched for every call), lets one caller fetch while the others wait,
and resends a call once with a fresh token when the API refused the cached one.

Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

Answer = TypeVar("Answer")


@dataclass
class _Token:
    value: str
    refresh_at: float


class TokenCache:
    """One set of client credentials' current token.

    ``fetch`` returns ``(access_token, lifetime_seconds)``; ``clock`` is monotonic seconds.
    ``name`` and ``logger`` say whose token was refused in the log.
    """

    def __init__(self, fetch: Callable[[], Awaitable[tuple[str, float]]], *,
                 margin_seconds: float, clock: Callable[[], float], name: str,
                 logger: logging.Logger) -> None:
        self._fetch = fetch
        self._margin = margin_seconds
        self._clock = clock
        self._name = name
        self._log = logger
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def get(self) -> str:
        """A token that is not due for renewal, fetching one when needed."""
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        async with self._lock:  # one fetch, however many callers are waiting
            token = self._token
            if token is None or self._clock() >= token.refresh_at:
                started = self._clock()  # the lifetime runs from the request, not the answer
                value, lifetime = await self._fetch()
                self.fetches += 1
                token = self._token = _Token(
                    value, started + lifetime - min(self._margin, lifetime / 2))
            return token.value

    def drop(self, value: str) -> None:
        """Forget the refused token ``value``, unless another caller renewed it already."""
        if self._token is not None and self._token.value == value:
            self._token = None

    async def call(self, send: Callable[[str], Awaitable[Answer]], *,
                   refused: Callable[[Answer], bool]) -> Answer:
        """``send(token)``; when ``refused(answer)`` (the API revoked or expired the token before
        we expected), renew the token and send once more. The second answer is returned as it
        is: a fresh token refused again means the credentials are wrong, not stale."""
        token = await self.get()
        answer = await send(token)
        if not refused(answer):
            return answer
        self.drop(token)
        self._log.info("%s refused the access token; renewing it", self._name)
        return await send(await self.get())
