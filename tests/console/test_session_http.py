"""The console's sessions over HTTP: sign-in, cookie flags, expiry, tampering, CSRF, roles,
languages, and no token in any URL."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx

from adapters.auth.keys import generate_key_pair
from adapters.auth.tokens import TokenIssuer
from tests.console.http_support import csrf_of, page_csrf, sign_in
from tests.support import Harness, make_settings, running_app

SESSION = "cari_console_session"


def _set_cookie(response_headers: list[str], name: str) -> str:
    found = [h for h in response_headers if h.startswith(f"{name}=")]
    assert found, response_headers
    return found[0]


async def test_sign_in_sets_a_strict_http_only_cookie_and_redirects(gateway: Harness) -> None:
    answer = await sign_in(gateway, "integrator")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    cookie = _set_cookie(answer.headers.get_list("set-cookie"), SESSION).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert "secure" not in cookie  # plain http here
    assert "v4.public" not in cookie  # the token is not kept, only a sealed session
    page = await gateway.client.get("/console/health")
    assert page.status_code == 200 and "Signed in as operator" in page.text
    assert page.headers["cache-control"] == "no-store"


async def test_cookies_are_secure_behind_an_https_base_url(tmp_path: Path,
                                                           sqlite_url: str) -> None:
    settings = make_settings(tmp_path / "var", sqlite_url,
                             public_base_url="https://gateway.example.org")
    async with running_app(settings) as gateway:
        # The browser would send Secure cookies back over https only: so does this client.
        gateway.client.base_url = httpx.URL("https://testserver")
        answer = await sign_in(gateway, "admin")
        cookie = _set_cookie(answer.headers.get_list("set-cookie"), SESSION).lower()
        assert "secure" in cookie


async def test_signed_out_pages_redirect_to_the_form_and_htmx_gets_hx_redirect(
        gateway: Harness) -> None:
    page = await gateway.client.get("/console/failures")
    assert page.status_code == 303
    assert page.headers["location"] == "/console/sign-in?next=/console/failures"
    partial = await gateway.client.post("/console/failures/outbox/replay",
                                        headers={"HX-Request": "true"})
    assert partial.status_code == 401 and partial.headers["hx-redirect"].startswith(
        "/console/sign-in")


async def test_a_wrong_token_is_refused_and_no_session_starts(gateway: Harness) -> None:
    form = await gateway.client.get("/console/sign-in")
    stranger = TokenIssuer(generate_key_pair(), gateway.settings.token_issuer,
                           gateway.settings.token_audience)
    bad = stranger.issue("x", ["admin"])  # signed by a key this gateway does not trust
    answer = await gateway.client.post("/console/sign-in", data={
        "token": bad, "csrf_token": csrf_of(form.text)})
    assert answer.status_code == 401 and "was not accepted" in answer.text
    assert SESSION not in gateway.client.cookies
    assert (await gateway.client.get("/console/health")).status_code == 303


async def test_the_session_ends_when_idle_and_at_the_token_expiry(gateway: Harness) -> None:
    await sign_in(gateway, "integrator")
    assert (await gateway.client.get("/console/health")).status_code == 200
    config = gateway.app.state.console
    gateway.app.state.console = replace(config, idle=timedelta(microseconds=1))
    try:
        assert (await gateway.client.get("/console/health")).status_code == 303
    finally:
        gateway.app.state.console = config
    # A token that expired ends the session with it (whatever the idle time).
    gateway.client.cookies.clear()
    await sign_in(gateway, "integrator", ttl_seconds=1)
    gateway.app.state.console = replace(config, absolute=timedelta(microseconds=1))
    try:
        assert (await gateway.client.get("/console/health")).status_code == 303
    finally:
        gateway.app.state.console = config


async def test_a_tampered_cookie_is_no_session(gateway: Harness) -> None:
    await sign_in(gateway, "integrator")
    sealed = gateway.client.cookies[SESSION]
    flipped = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]
    gateway.client.cookies.clear()
    gateway.client.cookies.set(SESSION, flipped, path="/console")
    assert (await gateway.client.get("/console/health")).status_code == 303
    gateway.client.cookies.set(SESSION, "v4.local.garbage", path="/console")
    assert (await gateway.client.get("/console/health")).status_code == 303


async def test_every_post_needs_the_csrf_token(gateway: Harness) -> None:
    await sign_in(gateway, "integrator")
    missing = await gateway.client.post("/console/failures/endpoints/switch",
                                        data={"endpoint_id": "x", "enabled": "false"})
    assert missing.status_code == 403 and "could not be verified" in missing.text
    wrong = await gateway.client.post("/console/failures/deliveries/replay",
                                      data={"csrf_token": "0" * 64, "delivery": "a:b"})
    assert wrong.status_code == 403
    out = await gateway.client.post("/console/sign-out", data={})
    assert out.status_code == 403  # a forged sign-out is refused too
    token = await page_csrf(gateway, "/console/health")
    good = await gateway.client.post("/console/failures/deliveries/replay",
                                     headers={"X-CSRF-Token": token, "HX-Request": "true"},
                                     data={"delivery": "a:b"})
    assert good.status_code == 200 and "0 deliveries queued again (1 already" in good.text
    # Sign-in itself is bound to the form's nonce cookie (no login CSRF).
    gateway.client.cookies.clear()
    forged = await gateway.client.post("/console/sign-in", data={
        "token": gateway.issuer.issue("x", ["admin"]), "csrf_token": token})
    assert forged.status_code == 403 and SESSION not in gateway.client.cookies


async def test_sign_out_ends_the_session(gateway: Harness) -> None:
    await sign_in(gateway, "integrator")
    token = await page_csrf(gateway, "/console/health")
    out = await gateway.client.post("/console/sign-out", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    assert (await gateway.client.get("/console/health")).status_code == 303


async def test_no_token_in_any_url(gateway: Harness) -> None:
    token = gateway.issuer.issue("operator", ["admin"])
    # A token in the query string signs nobody in.
    via_url = await gateway.client.get(f"/console/sign-in?token={token}")
    assert SESSION not in gateway.client.cookies and token not in via_url.text
    answer = await sign_in(gateway, "admin")
    assert "v4." not in answer.headers["location"]
    for path in ("/console/health", "/console/failures"):
        page = await gateway.client.get(path)
        assert page.status_code == 200, path
        for url in re.findall(r'(?:href|action|hx-post|src)="([^"]*)"', page.text):
            assert "v4." not in url and "token" not in url.lower(), url


async def test_navigation_follows_the_role(gateway: Harness) -> None:
    await sign_in(gateway, "integrator")
    page = await gateway.client.get("/console/health")
    assert 'href="/console/failures"' in page.text and 'href="/console/health"' in page.text
    gateway.client.cookies.clear()
    await sign_in(gateway, "clinician")
    home = await gateway.client.get("/console/")
    assert home.status_code == 303 and home.headers["location"] not in (
        "/console/health", "/console/failures")
    refused = await gateway.client.get("/console/health")
    assert refused.status_code == 403 and "does not give access" in refused.text
    assert 'href="/console/health"' not in refused.text
    assert 'href="/console/failures"' not in refused.text
    gateway.client.cookies.clear()
    await sign_in(gateway, "public_health")  # a role with no console page
    nothing = await gateway.client.get("/console/")
    assert nothing.status_code == 403 and "no console pages" in nothing.text


async def test_french_from_accept_language_and_from_the_switch(gateway: Harness) -> None:
    form = await gateway.client.get("/console/sign-in",
                                    headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert '<html lang="fr">' in form.text and "Connexion" in form.text
    await sign_in(gateway, "integrator")
    english = await gateway.client.get("/console/health")
    assert "Failures" in english.text
    token = csrf_of(english.text)
    switched = await gateway.client.post("/console/language", data={
        "csrf_token": token, "language": "fr", "next": "/console/health"})
    assert switched.status_code == 303 and switched.headers["location"] == "/console/health"
    french = await gateway.client.get("/console/health")
    assert '<html lang="fr">' in french.text and "Échecs" in french.text
    assert "Disponibilité" in french.text and french.headers["content-language"] == "fr"
    # An unknown language is ignored; an open redirect is not followed.
    odd = await gateway.client.post("/console/language", data={
        "csrf_token": token, "language": "xx", "next": "https://evil.example/"})
    assert odd.headers["location"] == "/console/"


async def test_every_english_key_has_a_french_text() -> None:
    from rest_compat.console.i18n import catalogues
    tables = catalogues()
    assert set(tables["en"]) == set(tables["fr"]), set(tables["en"]) ^ set(tables["fr"])
