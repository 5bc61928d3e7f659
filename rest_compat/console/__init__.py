"""The operator console, served at /console: server-rendered pages (Jinja2 + htmx) over the
same use cases as REST and GraphQL, signed in with the operator's own gateway token.

Pages register themselves here: each module under ``pages/`` lists its ``PAGES``; add yours
to :data:`pages` below (one line).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route

from rest_compat.console import signin
from rest_compat.console.framework import Page, page_endpoint
from rest_compat.console.pages import (
    alerts,
    failures,
    health,
    messages,
    overview,
    payments,
    review,
)
from rest_compat.console.static_files import console_static


def pages() -> list[Page]:
    return [
        *overview.PAGES,
        *messages.PAGES,
        *failures.PAGES,
        *health.PAGES,
        *review.PAGES,
        *alerts.PAGES,
        *payments.PAGES,
    ]


def console_routes() -> Mount:
    """Everything under /console; app.py mounts it and sets app.state.console."""
    registered = pages()
    routes: list[BaseRoute] = [
        Route("/", signin.home(registered), methods=["GET"], name="console-home"),
        Route("/sign-in", signin.sign_in_form, methods=["GET"], name="console-sign-in-form"),
        Route("/sign-in", signin.sign_in, methods=["POST"], name="console-sign-in"),
        Route("/sign-out", signin.sign_out, methods=["POST"], name="console-sign-out"),
        Route("/language", signin.choose_language, methods=["POST"], name="console-language"),
        Mount("/static", app=console_static(), name="console-static"),
    ]
    routes.extend(Route(page.path, page_endpoint(page, registered), methods=list(page.methods),
                        name=f"console-{page.name}") for page in registered)
    return Mount("/console", routes=routes)
