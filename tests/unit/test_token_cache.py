"""The one token cache of the payment providers and Medplum (adapters/http/token_cache.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.http.token_cache import TokenCache

log = logging.getLogger("test.tokens")


class Issuer:
    """Hands out token-1, token-2, ... each valid for ``lifetime`` seconds."""

    def __init__(self, lifetime: float, delay: float = 0.0) -> None:
        self.lifetime = lifetime
        self.delay = delay
        self.issued = 0

    async def fetch(self) -> tuple[str, float]:
        await asyncio.sleep(self.delay)
        self.issued += 1
        return f"token-{self.issued}", self.lifetime


def cache(issuer: Issuer, now: list[float], margin: float = 60.0) -> TokenCache:
    return TokenCache(issuer.fetch, margin_seconds=margin, clock=lambda: now[0], name="test",
                      logger=log)


async def test_token_is_kept_until_the_margin_before_expiry() -> None:
    issuer, now = Issuer(lifetime=3600.0), [0.0]
    tokens = cache(issuer, now)
    assert await tokens.get() == "token-1"
    now[0] = 3539.0
    assert await tokens.get() == "token-1"
    now[0] = 3540.0  # lifetime minus the 60 s margin
    assert await tokens.get() == "token-2"
    assert tokens.fetches == issuer.issued == 2


async def test_margin_is_at_most_half_the_lifetime() -> None:
    issuer, now = Issuer(lifetime=100.0), [0.0]
    tokens = cache(issuer, now, margin=300.0)
    await tokens.get()
    now[0] = 49.0
    assert await tokens.get() == "token-1"
    now[0] = 50.0
    assert await tokens.get() == "token-2"


async def test_concurrent_callers_share_one_fetch() -> None:
    issuer = Issuer(lifetime=3600.0, delay=0.01)
    tokens = cache(issuer, [0.0])
    assert set(await asyncio.gather(*(tokens.get() for _ in range(20)))) == {"token-1"}
    assert issuer.issued == 1


async def test_drop_forgets_only_the_refused_token() -> None:
    issuer = Issuer(lifetime=3600.0)
    tokens = cache(issuer, [0.0])
    await tokens.get()
    tokens.drop("token-1")
    assert await tokens.get() == "token-2"
    tokens.drop("token-1")  # a late refusal of the old token keeps the renewed one
    assert await tokens.get() == "token-2"


async def test_call_resends_once_with_a_fresh_token(caplog: pytest.LogCaptureFixture) -> None:
    issuer = Issuer(lifetime=3600.0)
    tokens = cache(issuer, [0.0])
    sent: list[str] = []

    async def send(token: str) -> int:
        sent.append(token)
        return 401

    with caplog.at_level(logging.INFO, logger="test.tokens"):
        answer = await tokens.call(send, refused=lambda status: status == 401)
    assert answer == 401  # the second refusal is the caller's to judge
    assert sent == ["token-1", "token-2"]
    assert "token-" not in caplog.text and "test refused the access token" in caplog.text


async def test_call_accepted_answer_is_sent_once() -> None:
    tokens = cache(Issuer(lifetime=3600.0), [0.0])
    sent: list[str] = []

    async def send(token: str) -> int:
        sent.append(token)
        return 200

    assert await tokens.call(send, refused=lambda status: status == 401) == 200
    assert sent == ["token-1"]
