"""Sign-in, sign-out, the language switch and the console's home (the first page the
operator's roles allow)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from resolvers.errors import Unauthenticated
from rest_compat.console import csrf
from rest_compat.console.framework import (
    Page,
    console_config,
    forbidden,
    navigation,
    read_form,
    safe_next,
)
from rest_compat.console.i18n import LANGUAGE_COOKIE, catalogues
from rest_compat.console.rendering import PREFIX, render
from rest_compat.console.session import (
    SESSION_COOKIE,
    clear_session_cookie,
    secure_cookies,
    set_session_cookie,
    start_session,
    unseal,
)

log = logging.getLogger("cari.console")
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
MAX_TOKEN_CHARS = 8192


def _sign_in_page(request: Request, *, error_key: str = "", status_code: int = 200,
                  next_path: str = "") -> Response:
    config = console_config(request)
    nonce = request.cookies.get(csrf.NONCE_COOKIE) or csrf.new_nonce()
    response = render(request, "sign_in.html",
                      {"error_key": error_key, "next": safe_next(next_path)},
                      status_code=status_code, csrf_token=csrf.token_for(config, nonce))
    csrf.set_nonce_cookie(response, request, config, nonce)
    return response


async def sign_in_form(request: Request) -> Response:
    config = console_config(request)
    if unseal(config, request.cookies.get(SESSION_COOKIE, ""), datetime.now(UTC)) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next", "")), status_code=303)
    return _sign_in_page(request, next_path=request.query_params.get("next", ""))


async def sign_in(request: Request) -> Response:
    config = console_config(request)
    form = await read_form(request)
    next_path = form.get("next")
    nonce = request.cookies.get(csrf.NONCE_COOKIE, "")
    if not csrf.valid(config, nonce, csrf.presented_token(request, form.get(csrf.CSRF_FIELD))):
        return _sign_in_page(request, error_key="sign_in.error.expired_form", status_code=403,
                             next_path=next_path)
    token = form.get("token").strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()  # pasted with its scheme: accept it
    if not token or len(token) > MAX_TOKEN_CHARS:
        return _sign_in_page(request, error_key="sign_in.error.missing", status_code=400,
                             next_path=next_path)
    try:
        principal = config.authenticator.verify(token)
    except Unauthenticated:
        log.info("console sign-in refused")
        return _sign_in_page(request, error_key="sign_in.error.invalid", status_code=401,
                             next_path=next_path)
    now = datetime.now(UTC)
    session = start_session(config, principal, token, now)
    log.info("console sign-in", extra={"subject": principal.subject})
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_session_cookie(response, request, config, session, now)
    response.delete_cookie(csrf.NONCE_COOKIE, path=PREFIX)
    return response


async def sign_out(request: Request) -> Response:
    config = console_config(request)
    form = await read_form(request)
    session = unseal(config, request.cookies.get(SESSION_COOKIE, ""), datetime.now(UTC))
    if session is not None and not csrf.valid(
            config, session.session_id, csrf.presented_token(request, form.get(csrf.CSRF_FIELD))):
        return forbidden(request, session, [], config, "forbidden.csrf")
    response = RedirectResponse(PREFIX + "/sign-in", status_code=303)
    clear_session_cookie(response, request, config)
    return response


async def choose_language(request: Request) -> Response:
    """The switch posts here with the session's CSRF token (or the sign-in form's)."""
    config = console_config(request)
    form = await read_form(request)
    session = unseal(config, request.cookies.get(SESSION_COOKIE, ""), datetime.now(UTC))
    anchor = session.session_id if session else request.cookies.get(csrf.NONCE_COOKIE, "")
    if not csrf.valid(config, anchor, csrf.presented_token(request, form.get(csrf.CSRF_FIELD))):
        return Response("the form expired: reload the page", status_code=403,
                        media_type="text/plain")
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    language = form.get("language")
    if language in catalogues():
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=LANGUAGE_COOKIE_SECONDS,
                            path=PREFIX, httponly=True, samesite="strict",
                            secure=secure_cookies(request, config))
    return response


def home(pages: Sequence[Page]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        config = console_config(request)
        now = datetime.now(UTC)
        session = unseal(config, request.cookies.get(SESSION_COOKIE, ""), now)
        if session is None:
            return RedirectResponse(PREFIX + "/sign-in", status_code=303)
        nav = navigation(pages, session.roles, request.url.path)
        if not nav:
            return forbidden(request, session, nav, config, "forbidden.no_pages")
        response = RedirectResponse(nav[0].href, status_code=303)
        set_session_cookie(response, request, config, session, now)
        return response

    return endpoint
