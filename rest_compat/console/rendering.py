"""Server-rendered pages: one Jinja2 environment (autoescape on for every template) and
:func:`render`, which gives each template the operator, the navigation their roles allow, the
CSRF token, the language and its translations, and versioned static URLs."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from rest_compat.console.i18n import Translator, language_of, languages

PREFIX = "/console"


@dataclass(frozen=True)
class NavItem:
    href: str
    label_key: str
    current: bool


@functools.cache
def environment() -> Environment:
    # Built at the first page, not at import (no side effects at import time).
    env = Environment(loader=PackageLoader("rest_compat.console", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals["static"] = static_url
    env.filters["when"] = when
    return env


def when(value: datetime | None) -> str:
    """Times in UTC, to the second, the same in every language (operators compare them with
    logs)."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@functools.cache
def static_version() -> str:
    """A digest of every static file: their URLs change when any of them does, so browsers
    may cache them for a year."""
    digest = hashlib.sha256()
    root = resources.files("rest_compat.console").joinpath("static")
    stack = [root]
    while stack:
        for entry in sorted(stack.pop().iterdir(), key=lambda item: item.name):
            if entry.is_dir():
                stack.append(entry)
            else:
                digest.update(entry.name.encode())
                digest.update(entry.read_bytes())
    return digest.hexdigest()[:12]


def static_url(path: str) -> str:
    return f"{PREFIX}/static/{path}?v={static_version()}"


def render(request: Request, template: str, context: Mapping[str, Any] | None = None, *,
           status_code: int = 200, user: str | None = None, roles: Sequence[str] = (),
           nav: Sequence[NavItem] = (), csrf_token: str = "") -> HTMLResponse:
    language = language_of(request)
    page = environment().get_template(template).render(
        t=Translator(language), language=language, languages=languages(), user=user,
        roles=sorted(roles), nav=nav, csrf_token=csrf_token, request_path=request.url.path,
        **(context or {}))
    return HTMLResponse(page, status_code=status_code,
                        headers={"Cache-Control": "no-store",
                                 "Content-Language": language,
                                 "X-Frame-Options": "DENY",
                                 "Referrer-Policy": "same-origin",
                                 "Content-Security-Policy": CSP})


# Scripts and styles only from this origin: the console loads nothing from a CDN, and an
# injected <script> cannot run. htmx's inline indicator style is disabled in base.html.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
