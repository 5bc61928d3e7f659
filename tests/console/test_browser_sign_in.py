"""In a real browser: sign in with a token, see the pages the role allows, sign out."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.console.browser import ConsoleSite, new_page, screenshot, sign_in

pytestmark = pytest.mark.slow


async def test_sign_in_shows_the_pages_of_the_role_and_sign_out_ends_the_session(
        site: ConsoleSite, browser: Browser) -> None:
    page = await new_page(browser)
    await page.goto(f"{site.base_url}/console/health")
    await page.wait_for_selector("#token")  # signed out: the sign-in form, not the page
    await screenshot(page, "sign-in")

    await sign_in(page, site, "integrator", start="/console/health")
    assert page.url.endswith("/console/health")  # back where the operator was going
    await page.wait_for_selector("#ready-checks")
    nav = await page.inner_text("nav.mainnav")
    assert "Health" in nav
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["cari_console_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert session["path"] == "/console"
    await screenshot(page, "health")

    # The language switch: French, kept for the next pages (a cookie), by keyboard.
    await page.select_option("#language-select", "fr")
    await page.focus("form.language-switch button")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("html[lang=fr]")
    assert "Échecs" in await page.inner_text("nav.mainnav")
    assert "Disponibilité" in await page.inner_text("main")
    await screenshot(page, "health-fr")
    await page.select_option("#language-select", "en")
    await page.click("form.language-switch button")
    await page.wait_for_selector("html[lang=en]")

    await page.click("#sign-out")
    await page.wait_for_selector("#token")
    await page.goto(f"{site.base_url}/console/health")
    await page.wait_for_selector("#token")


async def test_a_wrong_token_is_refused_on_the_form(site: ConsoleSite, browser: Browser) -> None:
    page = await new_page(browser)
    await page.goto(f"{site.base_url}/console/sign-in")
    await page.fill("#token", "v4.public.not-a-token")
    await page.click("#sign-in-submit")
    await page.wait_for_selector("#sign-in-error")
    assert "not accepted" in await page.inner_text("#sign-in-error")


async def _nav_rows(page: object) -> int:
    tops = await page.eval_on_selector_all(  # type: ignore[attr-defined]
        "nav.mainnav li", "items => items.map(i => Math.round(i.getBoundingClientRect().top))")
    return len(set(tops))


async def test_the_navigation_fits_one_row_on_a_1366_laptop_in_both_languages(
        site: ConsoleSite, browser: Browser) -> None:
    page = await new_page(browser)  # 1366 x 768
    await sign_in(page, site, "integrator", start="/console/health")  # every page in the nav
    await page.wait_for_selector("#ready-checks")
    assert await page.locator("nav.mainnav li").count() == 7
    assert await _nav_rows(page) == 1
    header = await page.eval_on_selector("header.topbar", "h => h.getBoundingClientRect().height")
    assert header < 100, f"the top bar takes {header} px of a 768 px screen"
    await page.select_option("#language-select", "fr")
    await page.click("form.language-switch button")
    await page.wait_for_selector("html[lang=fr]")
    assert await _nav_rows(page) == 1
    await screenshot(page, "health-fr-1366")
