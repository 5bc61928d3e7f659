"""Signing in to the console over HTTP (ASGI), as the form does, for the HTTP tests."""

from __future__ import annotations

import re

import httpx

from tests.support import Harness

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def sign_in(gateway: Harness, *roles: str, sub: str = "operator",
                  ttl_seconds: int = 3600) -> httpx.Response:
    """Sign in (the client keeps the cookies); returns the answer to the POST."""
    form = await gateway.client.get("/console/sign-in")
    assert form.status_code == 200
    token = gateway.issuer.issue(sub, list(roles), ttl_seconds=ttl_seconds)
    return await gateway.client.post("/console/sign-in", data={
        "token": token, "csrf_token": csrf_of(form.text), "next": "/console/"})


async def page_csrf(gateway: Harness, path: str) -> str:
    page = await gateway.client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)
