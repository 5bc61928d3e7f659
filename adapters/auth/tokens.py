"""Issue and verify PASETO v4.public bearer tokens."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyseto
from pyseto import Paseto

from adapters.auth.keys import KeyPair, public_key_id
from resolvers.errors import Unauthenticated
from resolvers.principal import KNOWN_ROLES, Principal, SmartContext

CLOCK_SKEW_SECONDS = 60
VERIFIED_CACHE_SIZE = 4096
MAX_TOKEN_LENGTH = 8192
PREFIX = "v4.public."


class TokenIssuer:
    def __init__(self, key_pair: KeyPair, issuer: str, audience: str) -> None:
        self._key = pyseto.Key.from_paserk(key_pair.secret_paserk)
        self._kid = key_pair.kid
        self._issuer = issuer
        self._audience = audience

    def issue(
        self, subject: str, roles: Sequence[str], scopes: Sequence[str] = (), ttl_seconds: int = 3600,
        now: datetime | None = None, organization: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        issued = (now or datetime.now(UTC)).replace(microsecond=0)
        claims = {
            "iss": self._issuer, "sub": subject, "aud": self._audience,
            "iat": issued.isoformat(), "nbf": issued.isoformat(),
            "exp": (issued + timedelta(seconds=ttl_seconds)).isoformat(),
            "roles": list(roles), "scope": " ".join(scopes),
        }
        if organization:
            claims["org"] = organization
        claims.update(extra or {})
        token = pyseto.encode(self._key, claims, footer={"kid": self._kid}, serializer=json)
        return bytes(token).decode("ascii")


class TokenVerifier:
    """Verifies against several issuers' public keys at once; the footer's ``kid`` picks one."""

    def __init__(self, trusted: Iterable[tuple[str, str]], audience: str) -> None:
        self._keys: dict[str, tuple[str, Any]] = {}
        for issuer, public_paserk in trusted:
            self._keys[public_key_id(public_paserk)] = (issuer, pyseto.Key.from_paserk(public_paserk))
        self._audience = audience
        self._paseto = Paseto.new(leeway=CLOCK_SKEW_SECONDS)
        # token -> (principal, valid from, valid until). The signature check (an Ed25519
        # verification, the largest part of an authenticated request's cost without data)
        # gives the same answer for the same token and keys every time; only the time
        # window changes, and it is checked again on every use. Keys are fixed per verifier.
        self._verified: dict[str, tuple[Principal, datetime, datetime]] = {}

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, valid_from, valid_until = known
            if valid_from <= datetime.now(UTC) <= valid_until:
                return principal
            del self._verified[token]  # expired (or not yet valid): the full check says why
        principal, window = self._verify(token)
        if window is not None:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                del self._verified[next(iter(self._verified))]  # the oldest entry
            self._verified[token] = (principal, *window)
        return principal

    def _verify(self, token: str) -> tuple[Principal, tuple[datetime, datetime] | None]:
        if len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated("the token is too long")
        if not token.startswith(PREFIX):
            kind = ".".join(token.split(".")[:2]) if token.count(".") >= 2 else "not a PASETO"
            raise Unauthenticated(f"expected a v4.public PASETO token, got {kind}")
        issuer, key = self._key_for(token)
        try:
            decoded = self._paseto.decode(key, token, deserializer=json, aud=self._audience)
        except pyseto.VerifyError as exc:
            raise Unauthenticated(f"the token failed verification: {exc}") from None
        except OverflowError:
            # pyseto adds its leeway to exp and subtracts it from nbf: a signed 9999-12-31 or
            # 0001-01-01 leaves datetime's range (was a 500).
            raise Unauthenticated("the token's exp, nbf or iat is outside the representable "
                                  "date range") from None
        except (pyseto.DecryptError, ValueError) as exc:
            raise Unauthenticated(f"the token is malformed: {exc}") from None
        claims = decoded.payload
        if not isinstance(claims, dict):
            raise Unauthenticated("the token's claims are not a JSON object")
        return self._principal(claims, issuer), _validity(claims)

    def _key_for(self, token: str) -> tuple[str, Any]:
        parts = token.split(".")
        if len(parts) != 4:
            raise Unauthenticated("the token has no footer with a key id (kid)")
        try:
            footer = json.loads(pyseto.utils.base64url_decode(parts[3]))
            kid = footer["kid"]
        except (ValueError, KeyError, TypeError):
            raise Unauthenticated("the token footer must be JSON with a kid") from None
        entry = self._keys.get(kid) if isinstance(kid, str) else None
        if entry is None:
            raise Unauthenticated("the token was signed with a key this gateway does not trust")
        return entry

    def _principal(self, claims: dict[str, Any], issuer: str) -> Principal:
        now = datetime.now(UTC)
        if "exp" not in claims:
            raise Unauthenticated("the token has no exp claim")
        if claims.get("iss") != issuer:
            raise Unauthenticated("the token's iss does not match the issuer of its key")
        if "iat" in claims:
            try:
                iat = datetime.fromisoformat(str(claims["iat"]))
            except ValueError:
                raise Unauthenticated("the token's iat is not a date-time") from None
            if iat.tzinfo is None or iat > now + timedelta(seconds=CLOCK_SKEW_SECONDS):
                raise Unauthenticated("the token's iat lies in the future")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("the token has no sub claim")
        raw_roles = claims.get("roles", [])
        if isinstance(raw_roles, str):
            raw_roles = raw_roles.replace(",", " ").split()
        if not isinstance(raw_roles, list):
            raise Unauthenticated("the token's roles claim must be a list")
        scope = claims.get("scope", "")
        scopes = scope.split() if isinstance(scope, str) else []
        org = claims.get("org")
        if org is not None and (not isinstance(org, str) or not 0 < len(org) <= 64):
            raise Unauthenticated("the token's org claim must be an organization id")
        return Principal(
            subject=subject,
            roles=frozenset(r for r in raw_roles if isinstance(r, str) and r in KNOWN_ROLES),
            scopes=frozenset(scopes),
            issuer=issuer,
            organization=org,
            smart=_smart_context(claims.get("smart"), claims.get("jti")),
        )


def _smart_context(raw: Any, jti: Any) -> SmartContext | None:
    """The "smart" claim of a SMART app's access token (resolvers/smart/tokens.py)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("client_id"), str):
        raise Unauthenticated("the token's smart claim must name its client_id")

    def text(key: str) -> str | None:
        value = raw.get(key)
        return value if isinstance(value, str) and value else None

    return SmartContext(client_id=raw["client_id"], patient=text("patient"),
                        encounter=text("encounter"), fhir_user=text("fhirUser"),
                        jti=jti if isinstance(jti, str) else "")


def _validity(claims: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """When a verified token stays acceptable, with the same leeway pyseto allows; None
    (not cached) when exp or nbf is not a time-zoned date-time."""
    leeway = timedelta(seconds=CLOCK_SKEW_SECONDS)
    try:
        expires = datetime.fromisoformat(str(claims["exp"]))
        not_before = (datetime.fromisoformat(str(claims["nbf"])) if "nbf" in claims
                      else datetime.min.replace(tzinfo=UTC) + leeway)
    except (KeyError, ValueError):
        return None
    if expires.tzinfo is None or not_before.tzinfo is None:
        return None
    try:
        return not_before - leeway, expires + leeway
    except OverflowError:  # at the edge of datetime's range: just not cached
        return None
