"""CDS client JWTs (CDS Hooks 2.0, security): who an EHR calling a CDS service is.

The token's ``iss`` must be a registered client (``CARI_CDS_CLIENTS``); its signature must
verify with the key its ``kid`` names in that client's JWKS (inline, or fetched from its
``jwks_url``, or from a ``jku`` header the client registered; fetched through the
allow-listed client, cached). Only asymmetric algorithms pass (never ``none`` nor HMAC).
``aud`` must be the exact URL called (string or array), ``exp`` in the future and ``iat``
not (60 s of skew either way), at most an hour apart, and ``jti`` unseen: the ledger keeps
it until the token expires, across processes, so a replay is refused.

A verified client acts with the integrator role; its subject is its ``iss``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from adapters.http.outbound import OutboundPolicy, OutboundRefused
from adapters.settings.cds import CdsClient
from resolvers.cds.hooks.ports import JwtIdLedger
from resolvers.errors import Unauthenticated
from resolvers.principal import Principal, Role

ASYMMETRIC_ALGS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384",
                   "PS512")
SKEW = timedelta(seconds=60)
MAX_LIFETIME = timedelta(hours=1)
MAX_JWKS_BYTES = 65_536


def _refused(reason: str) -> Unauthenticated:
    return Unauthenticated(f"CDS client JWT refused: {reason}")


def _instant(claims: Mapping[str, Any], name: str) -> datetime:
    value = claims.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _refused(f"the {name} claim is required (seconds since the epoch)")
    return datetime.fromtimestamp(value, UTC)


class JwksCache:
    """JWKS fetched from URLs, each kept ``seconds``. An unknown kid may force a refresh (the
    client rotated its keys), at most once per ``MIN_REFRESH_SECONDS`` per URL: tokens with
    made-up kids must not turn the gateway into a client hammering the EHR's JWKS URL."""

    MIN_REFRESH_SECONDS = 10.0

    def __init__(self, http: httpx.AsyncClient, policy: OutboundPolicy, seconds: int,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._http = http
        self._policy = policy
        self._seconds = seconds
        self._monotonic = monotonic
        self._cached: dict[str, tuple[float, dict[str, Any]]] = {}

    async def get(self, url: str, *, refresh: bool = False) -> dict[str, Any]:
        found = self._cached.get(url)
        if found is not None:
            age = self._monotonic() - found[0]
            if age < (self.MIN_REFRESH_SECONDS if refresh else self._seconds):
                return found[1]
        try:
            await self._policy.check(url, caller_supplied=True)
            response = await self._http.get(url, headers={"Accept": "application/json"})
        except (OutboundRefused, httpx.HTTPError) as exc:
            raise _refused(f"the JWKS at {url} could not be read ({exc})") from None
        if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
            raise _refused(f"the JWKS at {url} answered {response.status_code}")
        try:
            keys = response.json()
        except ValueError:
            raise _refused(f"the JWKS at {url} is not JSON") from None
        if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
            raise _refused(f"the JWKS at {url} has no keys")
        self._cached[url] = (self._monotonic(), keys)
        return keys


class CdsJwtVerifier:
    def __init__(self, clients: Mapping[str, CdsClient], jwks: JwksCache, ledger: JwtIdLedger,
                 now: Callable[[], datetime]) -> None:
        self._clients = clients
        self._jwks = jwks
        self._ledger = ledger
        self._now = now

    async def verify(self, token: str, audiences: Sequence[str]) -> Principal:
        try:
            compact = jws.extract_compact(token.encode("ascii"))
            header = dict(compact.headers())
            claims = json.loads(compact.payload)
        except (JoseError, ValueError, UnicodeError):
            raise _refused("not a well-formed JWS") from None
        alg = header.get("alg")
        if alg not in ASYMMETRIC_ALGS:
            raise _refused(f"alg {alg!r} is not accepted: asymmetric algorithms only "
                           "(ES384 or RS384 recommended; never none or HMAC)")
        if not isinstance(claims, dict):
            raise _refused("the claims are not a JSON object")
        iss = claims.get("iss")
        client = self._clients.get(iss) if isinstance(iss, str) else None
        if client is None:
            raise _refused("iss is not a registered CDS client")
        key = await self._key(client, header)
        try:
            jws.deserialize_compact(token, key, algorithms=[str(alg)])
        except JoseError:
            raise _refused("the signature does not verify") from None
        return await self._checked(client, claims, audiences)

    async def _key(self, client: CdsClient, header: Mapping[str, Any]) -> Any:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _refused("the header has no kid")
        jku = header.get("jku")
        if jku is not None and (not isinstance(jku, str) or (
                jku not in client.jku and jku != client.jwks_url)):
            raise _refused("the jku is not one the client registered")
        url = jku or client.jwks_url
        keys = client.jwks if url is None else await self._jwks.get(url)
        assert keys is not None  # the settings require jwks or jwks_url
        try:
            return KeySet.import_key_set(keys).get_by_kid(kid)  # type: ignore[arg-type]
        except JoseError:
            pass
        except (ValueError, TypeError, KeyError):
            raise _refused("the client's JWKS cannot be read") from None
        if url is not None:  # the client may have rotated its keys: read them once more
            try:
                fresh = await self._jwks.get(url, refresh=True)
                return KeySet.import_key_set(fresh).get_by_kid(kid)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError):
                pass
        raise _refused(f"no key {kid!r} in the client's JWKS")

    async def _checked(self, client: CdsClient, claims: Mapping[str, Any],
                       audiences: Sequence[str]) -> Principal:
        aud = claims.get("aud")
        named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(a in audiences for a in named if isinstance(a, str)):
            raise _refused("aud is not the URL called")
        now = self._now()
        expires, issued = _instant(claims, "exp"), _instant(claims, "iat")
        if expires <= now - SKEW:
            raise _refused("it has expired")
        if issued > now + SKEW:
            raise _refused("iat is in the future")
        if expires - max(issued, now) > MAX_LIFETIME:
            raise _refused("exp is more than an hour ahead")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > 500:
            raise _refused("the jti claim is required")
        if not await self._ledger.first_use(client.iss, jti, expires + SKEW, now):
            raise _refused("this jti was already used (replay)")
        return Principal(subject=client.iss[:200], roles=frozenset({Role.INTEGRATOR.value}),
                         issuer=client.iss)
