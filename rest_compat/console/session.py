"""Console sessions: a PASETO v4.local cookie (sealed and encrypted with the console key)
holding who signed in, their roles, when their token expires and when the session began.

Sign-in is a form POST of the operator's own gateway token (e.g. from ``cari-gateway
token``), verified by the gateway's authenticator: the console has no passwords of its own
and never puts a token in a URL. The token itself is not kept; the session ends at the
earliest of the token's expiry, ``CARI_CONSOLE_SESSION_MINUTES`` without a request, and
``CARI_CONSOLE_SESSION_ABSOLUTE_MINUTES`` after sign-in. Each request re-seals the cookie
with its new idle deadline.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyseto
from pyseto import Key
from starlette.requests import Request
from starlette.responses import Response

from resolvers.authn import Authenticator
from resolvers.principal import Caller, Principal

SESSION_COOKIE = "cari_console_session"
COOKIE_PATH = "/console"
SIGNATURE_BYTES = 64  # Ed25519, at the end of a v4.public token's payload


@dataclass(frozen=True)
class ConsoleConfig:
    """What the composition root gives the console (app.state.console)."""

    key: bytes
    authenticator: Authenticator
    idle: timedelta
    absolute: timedelta
    https_base: bool  # CARI_PUBLIC_BASE_URL is https: cookies are Secure behind a proxy too


@dataclass(frozen=True)
class ConsoleSession:
    session_id: str
    subject: str
    roles: frozenset[str]
    issuer: str
    organization: str | None
    issued_at: datetime
    last_seen: datetime
    token_expires: datetime

    @property
    def principal(self) -> Principal:
        return Principal(subject=self.subject, roles=self.roles, issuer=self.issuer,
                         organization=self.organization)

    def caller(self, request: Request) -> Caller:
        """The use cases' own role checks and audit apply to the console's calls."""
        state = request.scope.get("state", {})
        return Caller(principal=self.principal, surface="console",
                      request_id=str(state.get("request_id", "")))

    def ends(self, config: ConsoleConfig) -> datetime:
        return min(self.token_expires, self.issued_at + config.absolute,
                   self.last_seen + config.idle)

    def hard_end(self, config: ConsoleConfig) -> datetime:
        return min(self.token_expires, self.issued_at + config.absolute)


def token_expiry(token: str) -> datetime | None:
    """The ``exp`` of a v4.public token that the authenticator already verified (its payload
    is readable: the message followed by the signature)."""
    try:
        body = token.split(".")[2]
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))[:-SIGNATURE_BYTES]
        exp = json.loads(raw).get("exp")
        return datetime.fromisoformat(exp).astimezone(UTC) if isinstance(exp, str) else None
    except (IndexError, ValueError, AttributeError):
        return None


def _key(config: ConsoleConfig) -> Any:
    return Key.new(version=4, purpose="local", key=config.key)


def start_session(config: ConsoleConfig, principal: Principal, token: str,
                  now: datetime) -> ConsoleSession:
    expires = token_expiry(token) or now + config.absolute
    return ConsoleSession(session_id=secrets.token_urlsafe(24), subject=principal.subject,
                          roles=principal.roles, issuer=principal.issuer,
                          organization=principal.organization, issued_at=now, last_seen=now,
                          token_expires=expires)


def seal(config: ConsoleConfig, session: ConsoleSession) -> str:
    claims = {"sid": session.session_id, "sub": session.subject, "roles": sorted(session.roles),
              "iss": session.issuer, "org": session.organization,
              "iat": session.issued_at.isoformat(), "seen": session.last_seen.isoformat(),
              "texp": session.token_expires.isoformat()}
    return bytes(pyseto.encode(_key(config), json.dumps(claims).encode())).decode("ascii")


def unseal(config: ConsoleConfig, cookie: str, now: datetime) -> ConsoleSession | None:
    """The session in a cookie, or None when it is missing, tampered with or over."""
    if not cookie or len(cookie) > 4096:
        return None
    try:
        payload = pyseto.decode(_key(config), cookie).payload
        claims = json.loads(payload if isinstance(payload, bytes) else b"")
        session = ConsoleSession(
            session_id=str(claims["sid"]), subject=str(claims["sub"]),
            roles=frozenset(str(role) for role in claims["roles"]), issuer=str(claims["iss"]),
            organization=claims["org"] if isinstance(claims["org"], str) else None,
            issued_at=datetime.fromisoformat(claims["iat"]),
            last_seen=datetime.fromisoformat(claims["seen"]),
            token_expires=datetime.fromisoformat(claims["texp"]))
    except (pyseto.DecryptError, pyseto.VerifyError, ValueError, KeyError, TypeError):
        return None
    return session if now < session.ends(config) else None


def secure_cookies(request: Request, config: ConsoleConfig) -> bool:
    return request.url.scheme == "https" or config.https_base


def set_session_cookie(response: Response, request: Request, config: ConsoleConfig,
                       session: ConsoleSession, now: datetime) -> None:
    max_age = max(0, int((session.hard_end(config) - now).total_seconds()))
    response.set_cookie(SESSION_COOKIE, seal(config, session), max_age=max_age, path=COOKIE_PATH,
                        httponly=True, samesite="strict",
                        secure=secure_cookies(request, config))


def clear_session_cookie(response: Response, request: Request, config: ConsoleConfig) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict",
                           secure=secure_cookies(request, config))
