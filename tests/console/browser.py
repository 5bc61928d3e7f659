"""The console's browser harness: Debian's chromium driven by Playwright (executable_path:
browser downloads are not possible on these machines; `.ci/ensure-chromium` installs it),
a real gateway served by uvicorn on SQLite, and sign-in through the form."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright
from starlette.applications import Starlette

from adapters.auth.keys import load_or_create_local_key
from adapters.auth.tokens import TokenIssuer
from adapters.settings import Settings
from app import create_app
from tests.support import serving_app

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
WAIT_MS = 15_000


@dataclass
class ConsoleSite:
    base_url: str
    app: Starlette
    settings: Settings
    issuer: TokenIssuer

    def token(self, *roles: str, sub: str = "operator", ttl_seconds: int = 3600) -> str:
        return self.issuer.issue(sub, list(roles), ttl_seconds=ttl_seconds)


@contextlib.asynccontextmanager
async def console_site(settings: Settings) -> AsyncIterator[ConsoleSite]:
    """A whole gateway (lifespan, outbox worker) on a loopback port."""
    app = create_app(settings)
    issuer = TokenIssuer(load_or_create_local_key(settings.data_dir), settings.token_issuer,
                         settings.token_audience)
    async with serving_app(app, lifespan="on") as base_url:
        yield ConsoleSite(base_url=base_url, app=app, settings=settings, issuer=issuer)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # --no-sandbox: the tests run as root in a container, where chromium's sandbox
        # cannot start.
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                   args=["--no-sandbox"])
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(browser: Browser) -> Page:
    context = await browser.new_context(viewport={"width": 1366, "height": 768},
                                        locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


async def sign_in(page: Page, site: ConsoleSite, *roles: str, sub: str = "operator",
                  start: str = "/console/") -> None:
    """Through the form, as an operator would: open a console page, get the sign-in form,
    paste the token, press the button."""
    await page.goto(f"{site.base_url}{start}")
    await page.wait_for_selector("#token")
    await page.fill("#token", site.token(*roles, sub=sub))
    await page.click("#sign-in-submit")
    await page.wait_for_selector("#sign-out")
    assert "v4.public" not in page.url


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
