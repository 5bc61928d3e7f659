"""In a real browser: the overview's charts, and a message opened from the log with the
patient's name masked, then revealed (the reveal is audited under the operator's name)."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from adapters.db.tables import AuditEventRow
from tests.console.browser import ConsoleSite, new_page, screenshot, sign_in
from tests.operations.test_message_log import message

pytestmark = pytest.mark.slow


async def test_open_a_message_and_reveal_the_masked_name(site: ConsoleSite,
                                                         browser: Browser) -> None:
    async with httpx.AsyncClient(base_url=site.base_url) as client:
        for n in (1, 2):
            sent = await client.post("/api/lab/hl7-ingest", content=message(n).encode(),
                                     headers={"Authorization": f"Bearer {site.token('lab')}",
                                              "Content-Type": "text/plain"})
            assert sent.status_code == 200, sent.text
        await client.post("/api/lab/hl7-ingest", content=message(1, value="9.9").encode(),
                          headers={"Authorization": f"Bearer {site.token('lab')}",
                                   "Content-Type": "text/plain"})
    page = await new_page(browser)
    await sign_in(page, site, "integrator", sub="officer-9")

    await page.goto(f"{site.base_url}/console/overview")
    await page.wait_for_selector("#traffic tr[data-channel='hl7-http']")
    await page.wait_for_selector(".chart[data-measure='rate'] canvas")  # uPlot drew it
    await screenshot(page, "overview")

    await page.goto(f"{site.base_url}/console/messages")
    await page.wait_for_selector("#message-list")
    assert await page.locator("#message-list tbody tr").count() == 3
    await screenshot(page, "messages")
    await page.select_option("#f-channel", "hl7-refused")
    await page.click("#search-messages")
    # Locator assertions wait without evaluating script text (the console's CSP has no
    # unsafe-eval, which a string predicate of wait_for_function needs).
    await expect(page.locator("#message-list tbody tr")).to_have_count(1)
    await page.select_option("#f-channel", "hl7-http")
    await page.fill("#f-control", "MSG002")
    await page.click("#search-messages")
    await expect(page.locator("#message-list tbody tr")).to_have_count(1)
    await expect(page.locator("#message-list tbody tr td.mono >> nth=1")).to_have_text("MSG002")
    await page.click("#message-list a.open-message")

    name = page.locator("#segments .field[data-position='PID-5']")
    await name.wait_for()
    assert await name.inner_text() == "O•••"
    assert await name.get_attribute("title") == "PID-5"
    assert "ODHIAMBO" not in await page.inner_text("main")
    msh = await page.inner_text("#segments li.segment >> nth=0")
    assert msh.startswith("MSH|^~\\&|LAB_SYSTEM|FACILITY|"), msh
    await screenshot(page, "message-masked")

    await page.click("#reveal")
    await page.wait_for_selector("#revealed-notice")
    assert await page.locator("#segments .field[data-position='PID-5']").inner_text() == (
        "ODHIAMBO^GRACE")
    await screenshot(page, "message-revealed")

    engine = site.app.state.engine
    table = AuditEventRow.__table__  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        reveals = (await conn.execute(select(table).where(
            table.c.purpose == "console-reveal"))).mappings().all()
    assert [(r["subject"], r["surface"]) for r in reveals] == [("officer-9", "console")]
