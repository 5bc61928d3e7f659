"""The console's page contract: a :class:`Page` names its path, the roles that may open it,
and its navigation entry; :func:`page_endpoint` wraps its handler with the session, the role
check (a friendly 403 page), the CSRF check on every POST and the sliding session cookie.

C2/C3 and later pages add themselves by listing ``Page`` objects in their module's ``PAGES``
(see ``rest_compat/console/__init__.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from resolvers.errors import Forbidden
from resolvers.principal import Caller, Role
from resolvers.services import Services
from rest_compat.console import csrf
from rest_compat.console.rendering import PREFIX, NavItem, render
from rest_compat.console.session import (
    SESSION_COOKIE,
    ConsoleConfig,
    ConsoleSession,
    set_session_cookie,
    unseal,
)

log = logging.getLogger("cari.console")
# Admin and integrator see every page; other roles only the pages that name them.
EVERY_PAGE_ROLES = frozenset({Role.ADMIN.value, Role.INTEGRATOR.value})
MAX_FORM_BYTES = 256 * 1024


class Form:
    """An application/x-www-form-urlencoded body (the console's forms and htmx posts)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._pairs = list(pairs)

    def get(self, name: str, default: str = "") -> str:
        return next((value for key, value in self._pairs if key == name), default)

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]


async def read_form(request: Request) -> Form:
    if request.method != "POST":
        return Form([])
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Forbidden("the form is too large")
    try:
        return Form(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        return Form([])


@dataclass
class ConsoleRequest:
    """What a page handler gets: the request, the signed-in operator and their form."""

    request: Request
    session: ConsoleSession
    config: ConsoleConfig
    form: Form
    nav: list[NavItem] = field(default_factory=list)

    @property
    def caller(self) -> Caller:
        return self.session.caller(self.request)

    @property
    def services(self) -> Services:
        services: Services = self.request.app.state.services
        return services

    @property
    def csrf_token(self) -> str:
        return csrf.token_for(self.config, self.session.session_id)

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def render(self, template: str, context: dict[str, Any] | None = None, *,
               status_code: int = 200) -> HTMLResponse:
        return render(self.request, template, context, status_code=status_code,
                      user=self.session.subject, roles=sorted(self.session.roles),
                      nav=self.nav, csrf_token=self.csrf_token)


Handler = Callable[[ConsoleRequest], Awaitable[Response]]


@dataclass(frozen=True)
class Page:
    path: str  # under /console, e.g. "/health"
    handler: Handler
    name: str
    roles: frozenset[str] = frozenset()  # besides admin and integrator
    methods: tuple[str, ...] = ("GET",)
    nav_key: str | None = None  # i18n key of its navigation entry (GET pages)
    order: int = 100

    def allows(self, roles: frozenset[str]) -> bool:
        return bool(roles & (EVERY_PAGE_ROLES | self.roles))


def navigation(pages: Sequence[Page], roles: frozenset[str], path: str) -> list[NavItem]:
    return [NavItem(href=PREFIX + page.path, label_key=page.nav_key,
                    current=path == PREFIX + page.path)
            for page in sorted(pages, key=lambda page: page.order)
            if page.nav_key and page.allows(roles)]


def console_config(request: Request) -> ConsoleConfig:
    config: ConsoleConfig = request.app.state.console
    return config


def safe_next(target: str) -> str:
    """Only a console path of this host (no open redirect)."""
    if target.startswith(PREFIX + "/") and "//" not in target and "\\" not in target:
        return target
    return PREFIX + "/"


def signed_out(request: Request) -> Response:
    target = PREFIX + "/sign-in?next=" + quote(request.url.path, safe="/")
    if request.headers.get("hx-request") == "true":
        # htmx follows HX-Redirect with a full page load
        return Response(status_code=401, headers={"HX-Redirect": target})
    if request.method == "GET":
        return RedirectResponse(target, status_code=303)
    return RedirectResponse(target, status_code=303)


def forbidden(request: Request, session: ConsoleSession, nav: list[NavItem],
              config: ConsoleConfig, reason_key: str) -> HTMLResponse:
    return render(request, "forbidden.html", {"reason_key": reason_key}, status_code=403,
                  user=session.subject, roles=sorted(session.roles), nav=nav,
                  csrf_token=csrf.token_for(config, session.session_id))


def page_endpoint(page: Page, pages: Sequence[Page]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        config = console_config(request)
        now = datetime.now(UTC)
        session = unseal(config, request.cookies.get(SESSION_COOKIE, ""), now)
        if session is None:
            return signed_out(request)
        nav = navigation(pages, session.roles, request.url.path)
        if not page.allows(session.roles):
            log.info("console page refused", extra={"page": page.name,
                                                    "subject": session.subject})
            return forbidden(request, session, nav, config, "forbidden.role")
        form = await read_form(request)
        if request.method == "POST" and not csrf.valid(
                config, session.session_id,
                csrf.presented_token(request, form.get(csrf.CSRF_FIELD))):
            return forbidden(request, session, nav, config, "forbidden.csrf")
        session = replace(session, last_seen=now)
        try:
            response = await page.handler(ConsoleRequest(request, session, config, form, nav))
        except Forbidden:
            return forbidden(request, session, nav, config, "forbidden.role")
        set_session_cookie(response, request, config, session, now)
        return response

    return endpoint
