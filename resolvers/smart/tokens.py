"""The token endpoint (authorization_code, refresh_token, client_credentials), with client
authentication (none + PKCE, client secret, private_key_jwt), introspection and revocation.

Access tokens are the gateway's own v4.public tokens with the scopes and a ``smart`` claim
(the app, the patient and encounter in context, fhirUser), so the FHIR routes accept them
and the FHIR use cases enforce their scopes. Refresh tokens are opaque, single use and
rotated: a used one is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from resolvers.authn import Authenticator
from resolvers.clock import Clock
from resolvers.errors import Unauthenticated
from resolvers.principal import Role
from resolvers.smart.config import BEARER_ASSERTION, SmartConfig, digest
from resolvers.smart.model import Grant, OAuthError, SmartApp
from resolvers.smart.ports import AccessTokenMinter, ClientAssertions, IdTokenSigner, SmartStore
from resolvers.smart.scopes import app_may_have, is_known, parse_rule


@dataclass(frozen=True)
class ClientAuth:
    """How the client authenticated at the token endpoint (form fields or Basic)."""

    client_id: str | None = None
    secret: str | None = None
    assertion_type: str | None = None
    assertion: str | None = None


def _pkce(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()
                                    ).decode("ascii").rstrip("=")


class TokenService:
    def __init__(self, store: SmartStore, clock: Clock, config: SmartConfig,
                 minter: AccessTokenMinter, id_tokens: IdTokenSigner,
                 assertions: ClientAssertions, authenticator: Authenticator) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self._minter = minter
        self._id_tokens = id_tokens
        self._assertions = assertions
        self._authenticator = authenticator

    # -- client authentication --------------------------------------------------------

    async def authenticate(self, auth: ClientAuth) -> tuple[SmartApp, str]:
        """The app and how it authenticated: private_key_jwt, client_secret or none."""
        if auth.assertion is not None or auth.assertion_type is not None:
            return await self._by_assertion(auth), "private_key_jwt"
        app = await self._store.get_app(auth.client_id or "")
        if app is None:
            raise OAuthError("invalid_client", "unknown client", 401)
        if app.secret_hash is not None:
            if not auth.secret or not hmac.compare_digest(digest(auth.secret),
                                                          app.secret_hash):
                raise OAuthError("invalid_client", "the client secret is wrong or missing",
                                 401)
            return app, "client_secret"
        if app.confidential:
            raise OAuthError("invalid_client", "this app authenticates with private_key_jwt",
                             401)
        return app, "none"

    async def _by_assertion(self, auth: ClientAuth) -> SmartApp:
        if auth.assertion_type != BEARER_ASSERTION or not auth.assertion:
            raise OAuthError("invalid_client", f"client_assertion_type must be "
                             f"{BEARER_ASSERTION} with a client_assertion", 401)
        claimed = _unverified_issuer(auth.assertion)
        app = await self._store.get_app(claimed or "")
        if app is None or not app.backend:
            raise OAuthError("invalid_client", "the assertion's iss is not a registered "
                             "app with keys", 401)
        _, claims = await self._assertions.verify(auth.assertion, app.jwks, app.jwks_url)
        now = self._clock.now()
        exp = claims.get("exp")
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            raise OAuthError("invalid_client", "the assertion's iss and sub must be the "
                             "client_id", 401)
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self._config.endpoint("token") not in audiences:
            raise OAuthError("invalid_client", "the assertion's aud must be the token "
                             "endpoint", 401)
        if not isinstance(exp, int | float) or not now.timestamp() < exp <= (
                now.timestamp() + self._config.assertion_max_seconds):
            raise OAuthError("invalid_client", "the assertion's exp is missing, past or "
                             "too far ahead", 401)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise OAuthError("invalid_client", "the assertion has no jti", 401)
        fresh = await self._store.add_grant(Grant(
            key_hash=digest(f"{app.client_id}\n{jti}"), kind="jti", client_id=app.client_id,
            expires_at=datetime.fromtimestamp(exp, now.tzinfo)))
        if not fresh:
            raise OAuthError("invalid_client", "the assertion's jti was used before", 401)
        return app

    # -- grants -------------------------------------------------------------------------

    async def token(self, form: Mapping[str, str], auth: ClientAuth) -> dict[str, Any]:
        grant_type = form.get("grant_type", "")
        if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not "
                             "supported")
        app, method = await self.authenticate(auth)
        if auth.client_id and auth.client_id != app.client_id:
            raise OAuthError("invalid_client", "client_id differs from the authenticated "
                             "client", 401)
        if grant_type == "client_credentials":
            if method != "private_key_jwt":
                raise OAuthError("invalid_client", "client_credentials needs private_key_jwt",
                                 401)
            return await self._backend(app, form.get("scope", ""))
        if grant_type == "authorization_code":
            return await self._code(app, form)
        return await self._refresh(app, form)

    async def _code(self, app: SmartApp, form: Mapping[str, str]) -> dict[str, Any]:
        grant = await self._store.consume_grant(digest(form.get("code", "")), "code",
                                                self._clock.now())
        if grant is None or grant.client_id != app.client_id:
            raise OAuthError("invalid_grant", "the code is unknown, used, expired or not "
                             "this client's")
        if form.get("redirect_uri", "") != grant.data["redirect_uri"]:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization "
                             "request's")
        verifier = form.get("code_verifier", "")
        if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(
                _pkce(verifier), grant.data["code_challenge"]):
            raise OAuthError("invalid_grant", "code_verifier does not match the "
                             "code_challenge")
        return await self._answer(app, grant.data, grant.data["scope"].split())

    async def _refresh(self, app: SmartApp, form: Mapping[str, str]) -> dict[str, Any]:
        grant = await self._store.consume_grant(digest(form.get("refresh_token", "")),
                                                "refresh", self._clock.now())
        if grant is None or grant.client_id != app.client_id:
            raise OAuthError("invalid_grant", "the refresh token is unknown, used, expired "
                             "or not this client's")
        granted = grant.data["scope"].split()
        asked = form.get("scope", "").split() or granted
        if not set(asked) <= set(granted):
            raise OAuthError("invalid_scope", "a refresh may only narrow the scopes")
        return await self._answer(app, grant.data, asked)

    async def _backend(self, app: SmartApp, scope: str) -> dict[str, Any]:
        scopes = list(dict.fromkeys(scope.split()))
        refused = [s for s in scopes if not is_known(s) or not app_may_have(app.scopes, s)
                   or (rule := parse_rule(s)) is None or rule.level != "system"]
        if not scopes or refused:
            raise OAuthError("invalid_scope", "not allowed for this backend service: "
                             f"{' '.join(refused) or '(no scope asked)'}")
        jti = str(uuid.uuid4())
        ttl = self._config.access_token_seconds
        token = self._minter.mint(app.client_id, [Role.INTEGRATOR.value], scopes, ttl,
                                  {"client_id": app.client_id}, jti)
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl,
                "scope": " ".join(scopes)}

    async def _answer(self, app: SmartApp, data: Mapping[str, Any],
                      scopes: list[str]) -> dict[str, Any]:
        ttl = self._config.access_token_seconds
        context = {"patient": data.get("patient"), "encounter": data.get("encounter"),
                   "fhirUser": data.get("fhirUser")}
        smart = {"client_id": app.client_id, **{k: v for k, v in context.items() if v}}
        jti = str(uuid.uuid4())
        token = self._minter.mint(data["subject"], [Role.CLINICIAN.value], scopes, ttl, smart,
                                  jti, data.get("organization"))
        body: dict[str, Any] = {"access_token": token, "token_type": "Bearer",
                                "expires_in": ttl, "scope": " ".join(scopes),
                                **{k: v for k, v in context.items() if v}}
        now = self._clock.now()
        offline = "offline_access" in scopes
        if offline or "online_access" in scopes:
            refresh = secrets.token_urlsafe(32)
            lifetime = (self._config.refresh_token_seconds if offline
                        else self._config.online_refresh_seconds)
            await self._store.add_grant(Grant(
                key_hash=digest(refresh), kind="refresh", client_id=app.client_id,
                expires_at=now + timedelta(seconds=lifetime),
                data={**{k: v for k, v in data.items() if k in (
                    "subject", "patient", "encounter", "fhirUser", "organization")},
                      "scope": " ".join(scopes)}))
            body["refresh_token"] = refresh
        if "openid" in scopes and "fhirUser" in scopes:
            issued = int(now.timestamp())
            claims: dict[str, Any] = {
                "iss": self._config.base_url, "sub": data["subject"], "aud": app.client_id,
                "iat": issued, "exp": issued + ttl, "fhirUser": data.get("fhirUser")}
            if data.get("nonce"):
                claims["nonce"] = data["nonce"]
            body["id_token"] = self._id_tokens.sign(claims)
        return body

    # -- introspection and revocation ---------------------------------------------------

    async def introspect(self, token: str) -> dict[str, Any]:
        now = self._clock.now()
        refresh = await self._store.find_grant(digest(token), "refresh", now)
        if refresh is not None:
            return {"active": True, "client_id": refresh.client_id,
                    "scope": refresh.data.get("scope", ""), "token_type": "refresh_token",
                    "exp": int(refresh.expires_at.timestamp()),
                    "sub": refresh.data.get("subject")}
        try:
            principal = self._authenticator.verify(token)
        except Unauthenticated:
            return {"active": False}
        smart = principal.smart
        if smart is None or await self._store.find_grant(digest(smart.jti), "revoked",
                                                         now) is not None:
            return {"active": False}
        answer = {"active": True, "client_id": smart.client_id, "sub": principal.subject,
                  "scope": " ".join(sorted(principal.scopes)), "token_type": "Bearer",
                  "patient": smart.patient, "encounter": smart.encounter,
                  "fhirUser": smart.fhir_user}
        return {k: v for k, v in answer.items() if v is not None}

    async def revoked(self, jti: str) -> bool:
        """Whether a SMART access token (by its jti) was revoked before it expired."""
        return await self._store.find_grant(digest(jti), "revoked", self._clock.now()) is not None

    async def revoke(self, token: str, auth: ClientAuth) -> None:
        """RFC 7009: always a success for the client; a refresh token is used up, an access
        token is recorded as revoked until it would have expired."""
        app, _ = await self.authenticate(auth)
        now = self._clock.now()
        grant = await self._store.find_grant(digest(token), "refresh", now)
        if grant is not None:
            if grant.client_id == app.client_id:
                await self._store.consume_grant(grant.key_hash, "refresh", now)
            return
        try:
            principal = self._authenticator.verify(token)
        except Unauthenticated:
            return
        if principal.smart is not None and principal.smart.client_id == app.client_id:
            await self._store.add_grant(Grant(
                key_hash=digest(principal.smart.jti), kind="revoked", client_id=app.client_id,
                expires_at=now + timedelta(seconds=self._config.access_token_seconds)))


def _unverified_issuer(assertion: str) -> str | None:
    """The iss an assertion claims, read before its signature is checked (to find the key)."""
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    return issuer if isinstance(issuer, str) else None
