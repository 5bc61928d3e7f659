"""CSRF: a synchronizer token, the HMAC of the session id under the console key, in every form
(``csrf_token``) and in htmx requests (``X-CSRF-Token``), checked on every POST.

Before sign-in there is no session: the sign-in and language forms are bound instead to a
random nonce in a short-lived cookie (so a third-party page cannot sign an operator in as
someone else, "login CSRF"). Cookies are also SameSite=Strict: two locks.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from rest_compat.console.session import COOKIE_PATH, ConsoleConfig, secure_cookies

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
NONCE_COOKIE = "cari_console_nonce"
NONCE_SECONDS = 3600


def token_for(config: ConsoleConfig, anchor: str) -> str:
    return hmac.new(config.key, f"csrf:{anchor}".encode(), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def set_nonce_cookie(response: Response, request: Request, config: ConsoleConfig,
                     nonce: str) -> None:
    response.set_cookie(NONCE_COOKIE, nonce, max_age=NONCE_SECONDS, path=COOKIE_PATH,
                        httponly=True, samesite="strict",
                        secure=secure_cookies(request, config))


def valid(config: ConsoleConfig, anchor: str, presented: str) -> bool:
    return bool(anchor) and bool(presented) and hmac.compare_digest(
        token_for(config, anchor), presented)


def presented_token(request: Request, form_value: object) -> str:
    header = request.headers.get(CSRF_HEADER, "")
    return header or (form_value if isinstance(form_value, str) else "")
