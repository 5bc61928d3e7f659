"""OAuth2 client-credentials tokens for national HIEs: one cached token per HIE.

The token request is ``grant_type=client_credentials`` with ``client_id`` and
``client_secret`` as form fields, POSTed to the profile's ``token_url``. Keeping the token
(renewal before expiry, one fetch at a time, a resend after a 401) is the shared
:class:`~adapters.http.token_cache.TokenCache`. Tokens are never logged.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable

import httpx

from adapters.http.outbound import OutboundRefused
from adapters.http.token_cache import TokenCache
from resolvers.crossborder.model import CountryProfile, FailureKind, HieFailure

log = logging.getLogger("cari.hie")
_DEFAULT_EXPIRES_IN = 300.0


async def fetch_token(http: httpx.AsyncClient, profile: CountryProfile) -> tuple[str, float]:
    name = profile.code or "the sandbox HIE"
    if not profile.token_url or not profile.client_id or not profile.client_secret:
        raise HieFailure(FailureKind.UNAUTHORIZED,
                         f"{name} needs OAuth2 client credentials: set CARI_HIE_"
                         f"{profile.code or '<CC>'}_TOKEN_URL, _CLIENT_ID and _CLIENT_SECRET")
    try:
        response = await http.post(
            profile.token_url, data={"grant_type": "client_credentials",
                                     "client_id": profile.client_id,
                                     "client_secret": profile.client_secret},
            headers={"Accept": "application/json"}, timeout=profile.timeout_seconds)
    except httpx.TimeoutException:
        raise HieFailure(FailureKind.TIMEOUT, f"{name}'s token endpoint did not answer") from None
    except (OutboundRefused, httpx.HTTPError) as exc:
        raise HieFailure(FailureKind.UNREACHABLE, f"{name}'s token endpoint is unreachable "
                         f"({type(exc).__name__})") from None
    if response.status_code in (400, 401, 403):
        raise HieFailure(FailureKind.UNAUTHORIZED, f"{name}'s token endpoint refused the "
                         f"gateway's client credentials ({response.status_code})")
    if response.status_code != 200:
        raise HieFailure(FailureKind.UPSTREAM_ERROR,
                         f"{name}'s token endpoint answered HTTP {response.status_code}")
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    value = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise HieFailure(FailureKind.BAD_ANSWER, f"{name}'s token answer has no access_token")
    expires_in = body.get("expires_in") if isinstance(body, dict) else None
    lifetime = (float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0
                else _DEFAULT_EXPIRES_IN)
    return value, lifetime


class HieTokens:
    """The token caches, one per (token URL, client id)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._caches: dict[tuple[str, str], TokenCache] = {}

    async def call(self, profile: CountryProfile,
                   send: Callable[[str | None], Awaitable[httpx.Response]]) -> httpx.Response:
        key = (profile.token_url, profile.client_id)
        cache = self._caches.get(key)
        if cache is None:
            cache = self._caches[key] = TokenCache(
                functools.partial(fetch_token, self._http, profile), margin_seconds=60.0,
                clock=time.monotonic, name=f"HIE {profile.code or 'sandbox'}", logger=log)
        return await cache.call(send, refused=lambda response: response.status_code == 401)
