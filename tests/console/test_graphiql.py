"""GraphiQL loads nothing from a CDN: the page's scripts and styles are the gateway's own
(schema/graphiql), and a real browser renders the IDE without a request to another host."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser

from tests.console.browser import ConsoleSite, console_site, new_page, screenshot
from tests.support import Harness, make_settings

REFERENCE = re.compile(r'\b(?:src|href)\s*=\s*"([^"]*)"')


async def test_the_ide_page_references_only_this_host(gateway: Harness) -> None:
    page = await gateway.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    references = REFERENCE.findall(page.text)
    assert len(references) >= 6  # react, react-dom, graphiql (js, css), explorer (js, css)
    assert "unpkg" not in page.text and "cdn" not in page.text.lower()
    for reference in references:
        if reference.startswith("data:"):
            continue  # the inline favicon
        assert reference.startswith("/graphql/assets/"), reference
        asset = await gateway.client.get(reference)
        assert asset.status_code == 200, reference
        assert asset.headers["content-type"].split(";")[0] in (
            "text/javascript", "application/javascript", "text/css"), reference


async def test_the_assets_are_not_served_when_graphiql_is_off(tmp_path: Path,
                                                              sqlite_url: str) -> None:
    from tests.support import running_app
    settings = make_settings(tmp_path / "var", sqlite_url, graphiql=False)
    async with running_app(settings) as harness:
        r = await harness.client.get("/graphql/assets/graphiql.min.js")
        assert r.status_code == 404


@pytest.mark.slow
async def test_a_browser_renders_graphiql_without_another_host(
        tmp_path: Path, sqlite_url: str, browser: Browser) -> None:
    site: ConsoleSite
    async with console_site(make_settings(tmp_path / "var", sqlite_url)) as site:
        page = await new_page(browser)
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        await page.goto(f"{site.base_url}/graphql")
        await page.wait_for_selector(".graphiql-editor")  # React mounted GraphiQL
        await screenshot(page, "graphiql")
        foreign = [url for url in requested
                   if not url.startswith((site.base_url, "data:", "ws://127.0.0.1"))]
        assert not foreign, foreign
        assert any(url.endswith("/graphql/assets/graphiql.min.js") for url in requested)
