"""The authorization endpoint: authorization code with PKCE S256, approved by the caller.

The approving user is the caller's platform identity (its bearer v4.public token): the
platform's front end, where the user is signed in, sends the app's authorization request
on to ``/api/smart/authorize`` with the user's token, and the answer redirects the browser
to the app with a code. A standalone launch asking ``launch/patient`` carries the user's
choice from the platform's patient picker in the ``patient`` parameter.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from resolvers.clock import Clock
from resolvers.principal import Caller, Role, require_role
from resolvers.smart.config import SmartConfig, digest
from resolvers.smart.model import Grant, OAuthError, SmartApp
from resolvers.smart.ports import SmartStore
from resolvers.smart.scopes import app_may_have, is_known


class AuthorizeRefused(OAuthError):
    """An error the browser may not be sent back with (unknown client or redirect URI)."""


def _redirect(uri: str, values: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in values.items() if v is not None})
    return f"{uri}{'&' if urlsplit(uri).query else '?'}{query}"


class Authorizer:
    def __init__(self, store: SmartStore, clock: Clock, config: SmartConfig) -> None:
        self._store = store
        self._clock = clock
        self._config = config

    async def _client(self, params: Mapping[str, str]) -> tuple[SmartApp, str]:
        app = await self._store.get_app(params.get("client_id", ""))
        if app is None:
            raise AuthorizeRefused("invalid_request", "unknown client_id")
        redirect_uri = params.get("redirect_uri") or (
            app.redirect_uris[0] if len(app.redirect_uris) == 1 else "")
        if redirect_uri not in app.redirect_uris:
            raise AuthorizeRefused("invalid_request", "redirect_uri is not registered for "
                                   "this app")
        return app, redirect_uri

    async def authorize(self, caller: Caller, params: Mapping[str, str]) -> str:
        """The URL to send the browser to: the app's redirect URI with a code, or with the
        error. Raises :class:`AuthorizeRefused` when there is nowhere safe to redirect."""
        app, redirect_uri = await self._client(params)
        state = params.get("state")
        try:
            require_role(caller, Role.CLINICIAN)
            code = await self._code(caller, app, redirect_uri, params)
        except OAuthError as exc:
            return _redirect(redirect_uri, {"error": exc.error,
                                            "error_description": exc.description,
                                            "state": state})
        return _redirect(redirect_uri, {"code": code, "state": state})

    async def _code(self, caller: Caller, app: SmartApp, redirect_uri: str,
                    params: Mapping[str, str]) -> str:
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "only response_type=code")
        challenge = params.get("code_challenge", "")
        if params.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
            raise OAuthError("invalid_request", "PKCE is required: code_challenge with "
                             "code_challenge_method=S256")
        aud = params.get("aud")
        if aud is not None and aud.rstrip("/") != self._config.fhir_base:
            raise OAuthError("invalid_request", f"aud must be {self._config.fhir_base}")
        scopes = list(dict.fromkeys(params.get("scope", "").split()))
        refused = [s for s in scopes if not is_known(s) or not app_may_have(app.scopes, s)]
        if not scopes or refused:
            raise OAuthError("invalid_scope", "not allowed for this app: "
                             f"{' '.join(refused) or '(no scope asked)'}")
        now = self._clock.now()
        context: dict[str, str | None] = {"patient": None, "encounter": None}
        if "launch" in scopes or params.get("launch"):
            launch = await self._store.consume_grant(digest(params.get("launch", "")),
                                                     "launch", now)
            if launch is None or launch.client_id != app.client_id:
                raise OAuthError("invalid_request", "the launch id is unknown, used or "
                                 "expired")
            context = {"patient": launch.data.get("patient"),
                       "encounter": launch.data.get("encounter")}
        elif "launch/patient" in scopes:
            if not params.get("patient"):
                raise OAuthError("invalid_request", "launch/patient needs the patient the "
                                 "user picked (the patient parameter)")
            context["patient"] = params["patient"]
        if any(s.startswith("patient/") for s in scopes) and not context["patient"]:
            raise OAuthError("invalid_scope", "patient/ scopes need a patient context "
                             "(launch or launch/patient)")
        code = secrets.token_urlsafe(32)
        await self._store.add_grant(Grant(
            key_hash=digest(code), kind="code", client_id=app.client_id,
            expires_at=now + timedelta(seconds=self._config.code_seconds),
            data={"redirect_uri": redirect_uri, "code_challenge": challenge,
                  "scope": " ".join(scopes), "subject": caller.principal.subject,
                  "organization": caller.principal.organization,
                  "fhirUser": f"Practitioner/{caller.principal.subject}",
                  "nonce": params.get("nonce"), **context}))
        return code
