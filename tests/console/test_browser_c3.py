"""In a real browser: resolve an MPI review task, acknowledge a critical-value alert, and a
clinician cannot open the payments page (a 403 page, and no navigation entry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import update

from adapters.db.payments import P
from tests.api.test_lab_ingest import NATID, WORKED_EXAMPLE
from tests.console.browser import ConsoleSite, new_page, screenshot, sign_in
from tests.payments.fake_provider import FakeProvider, succeeded

pytestmark = pytest.mark.slow


async def _api(site: ConsoleSite, method: str, path: str, role: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(base_url=site.base_url, timeout=30) as client:
        r = await client.request(method, path, headers={
            "Authorization": f"Bearer {site.token(role)}", **kwargs.pop("headers", {})},
            **kwargs)
        assert r.status_code < 300, r.text
        return r.json()["data"]


async def _patient(site: ConsoleSite, **body: Any) -> Any:
    return await _api(site, "POST", "/api/patients", "clinician", json={
        "family": "Odhiambo", "given": ["Grace"], "gender": "female", **body})


async def _ingest(site: ConsoleSite, message: str) -> Any:
    return await _api(site, "POST", "/api/lab/hl7-ingest", "lab", content=message.encode(),
                      headers={"Content-Type": "text/plain"})


async def test_resolve_an_mpi_review_task(site: ConsoleSite, browser: Browser) -> None:
    # A lookalike (day and month of birth swapped, none of the identifiers): held for review.
    lookalike = await _patient(site, birth_date="1985-12-04",
                               identifiers=[{"system": "urn:test:other", "value": "X1"}])
    held = await _ingest(site, WORKED_EXAMPLE)
    assert held["patient_matched"] is False
    page = await new_page(browser)
    await sign_in(page, site, "clinician", sub="dr-achieng", start="/console/review")
    await page.wait_for_selector(".review-case")
    assert "ODHIAMBO" not in await page.inner_text("#review-queue")  # masked
    await screenshot(page, "review")
    await page.click("button.reveal")
    await page.wait_for_selector("[id^=revealed-]")
    assert "ODHIAMBO" in await page.inner_text("#review-queue")
    await screenshot(page, "review-revealed")
    await page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, portrait
    await screenshot(page, "review-tablet")
    await page.set_viewport_size({"width": 1366, "height": 768})
    await page.click("button.link-task")
    await page.wait_for_selector("#review-notice")
    await page.wait_for_selector("#review-empty")
    assert "Linked" in await page.inner_text("#review-notice")
    links = await _api(site, "GET", f"/api/mpi/links?lab_result_id={held['lab_result_id']}",
                       "clinician")
    assert [(k["patient_id"], k["created_by"]) for k in links["items"]] == [
        (lookalike["id"], "dr-achieng")]


async def test_acknowledge_an_alert(site: ConsoleSite, browser: Browser) -> None:
    await _patient(site, birth_date="1985-04-12",
                   identifiers=[{"system": NATID, "value": "NID9988"}])
    await _ingest(site, WORKED_EXAMPLE)  # a certain match: the potassium of 6.9 alerts
    page = await new_page(browser)
    await sign_in(page, site, "lab", sub="lab-tech-1", start="/console/alerts")
    await page.wait_for_selector("#waiting-alerts")
    assert "6.9" in await page.inner_text("#waiting-alerts")
    await screenshot(page, "alerts")
    await page.click("button.acknowledge")
    await page.wait_for_selector("#alerts-notice")
    await page.wait_for_selector("#no-waiting")
    assert "lab-tech-1" in await page.inner_text("#acknowledged-alerts")
    alerts = await _api(site, "GET", "/api/lab/alerts", "lab")
    assert alerts["items"][0]["acknowledged_by"] == "lab-tech-1"


async def test_a_clinician_cannot_open_the_payments_page(site: ConsoleSite,
                                                         browser: Browser) -> None:
    page = await new_page(browser)
    await sign_in(page, site, "clinician", sub="dr-otieno", start="/console/alerts")
    nav = await page.inner_text("nav.mainnav")
    assert "MPI review" in nav and "Lab alerts" in nav and "Payments" not in nav
    answer = await page.goto(f"{site.base_url}/console/payments")
    assert answer is not None and answer.status == 403
    assert "not give access" in await page.inner_text("main")
    assert "Payments" not in await page.inner_text("nav.mainnav")
    await screenshot(page, "payments-refused")

    # A billing officer sees payments: three MoMo collections, one settled by the reconciler.
    momo = FakeProvider(name="mtn_momo", currencies=frozenset({"UGX"}))
    site.app.state.services.payments.providers.use({"mtn_momo": momo})
    created = [await _api(site, "POST", "/api/payments", "billing", json={
        "provider": "mtn_momo", "amount": 15000 * (n + 1), "currency": "UGX",
        "phone": "0772123456", "reference": f"INV-{n}"}, headers={"Idempotency-Key": f"b{n}"})
        for n in range(3)]
    momo.statuses[created[0]["provider_reference"]] = succeeded(15000, "+256772123456")
    async with site.app.state.engine.begin() as conn:  # due now
        await conn.execute(update(P).where(P.c.id == created[0]["id"]).values(
            next_check_at=datetime.now(UTC) - timedelta(seconds=1)))
    await site.app.state.services.payments.reconciler.run_once()
    billing = await new_page(browser)
    await sign_in(billing, site, "billing", sub="cashier", start="/console/payments")
    await billing.wait_for_selector("#payment-list")
    assert "Succeeded" in await billing.inner_text(f"#payment-{created[0]['id']}")
    await billing.select_option("#p-status", "pending")
    await billing.click("#search-payments")
    await expect(billing.locator("#payment-list tbody tr")).to_have_count(2)
    await billing.select_option("#p-status", "")
    await billing.click("#search-payments")
    await expect(billing.locator("#payment-list tbody tr")).to_have_count(3)
    await billing.click(f"#payment-{created[0]['id']} details summary")
    await screenshot(billing, "payments")
