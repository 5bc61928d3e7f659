"""In a real browser: a webhook delivery fails against a receiver answering 500; the operator
sees it on the failures page with its last error, fixes the receiver, replays it from the
page, and sees it delivered."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser

from adapters.settings.webhooks_out import WebhookOutSettings
from tests.console.browser import ConsoleSite, console_site, new_page, screenshot, sign_in
from tests.notifications.receiver import running_webhook_receiver
from tests.receiver import wait_for
from tests.support import make_settings

pytestmark = pytest.mark.slow
BASE = "/api/webhooks/endpoints"


async def _deliveries(client: httpx.AsyncClient, endpoint_id: str,
                      headers: dict[str, str]) -> list[dict[str, Any]]:
    r = await client.get(f"{BASE}/{endpoint_id}/deliveries", headers=headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["data"]["items"]
    return items


async def _until(client: httpx.AsyncClient, endpoint_id: str, headers: dict[str, str],
                 status: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        found = await _deliveries(client, endpoint_id, headers)
        if found and all(d["status"] == status for d in found):
            return found[0]
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.05)


async def test_a_failed_delivery_is_shown_replayed_and_delivered(
        tmp_path: Path, sqlite_url: str, browser: Browser) -> None:
    settings = make_settings(tmp_path / "var", sqlite_url, outbound_allowlist=("127.0.0.1",),
                             webhooks_out=WebhookOutSettings(retry_schedule=(0.05,)))
    async with running_webhook_receiver() as receiver, console_site(settings) as site, \
            httpx.AsyncClient(base_url=site.base_url) as api:
        await _seeded_failure(site, api, receiver)
        page = await new_page(browser)
        await sign_in(page, site, "integrator", start="/console/failures")
        row = page.locator("table.failed-deliveries tbody tr")
        await row.first.wait_for()
        assert await row.count() == 1
        text = await row.first.inner_text()
        assert "webhook.test" in text and "HTTP 500" in text and "gave up" in text
        await screenshot(page, "failures")

        receiver.hook("broken").always = None  # the receiver is fixed
        await row.first.locator("input[type=checkbox]").check()
        await page.click("button.replay-deliveries")
        notice = page.locator("#webhook-notice")
        await notice.wait_for()
        assert "1 deliveries queued again" in await notice.inner_text()
        await wait_for(lambda: len(receiver.hook("broken").events("webhook.test")) == 1)
        headers = {"Authorization": f"Bearer {site.token('integrator')}"}
        endpoint_id = (await api.get(BASE, headers=headers)).json()["data"]["items"][0]["id"]
        delivered = await _until(api, endpoint_id, headers, "succeeded")
        assert delivered["attempts"] >= 1

        await page.reload()
        await page.wait_for_selector("text=No failed deliveries.")
        await screenshot(page, "failures-after-replay")

        # Disable, then enable the endpoint from the page (htmx refreshes the section).
        await page.click(f"[data-endpoint-switch='{endpoint_id}']")
        await page.wait_for_selector("#webhook-notice >> text=disabled")
        got = (await api.get(f"{BASE}/{endpoint_id}", headers=headers)).json()["data"]
        assert got["enabled"] is False
        await page.click(f"[data-endpoint-switch='{endpoint_id}']")
        await page.wait_for_selector("#webhook-notice >> text=enabled again")
        got = (await api.get(f"{BASE}/{endpoint_id}", headers=headers)).json()["data"]
        assert got["enabled"] is True


async def _seeded_failure(site: ConsoleSite, api: httpx.AsyncClient, receiver: Any) -> None:
    """An endpoint at a receiver answering 500, and a test event: two attempts, exhausted."""
    headers = {"Authorization": f"Bearer {site.token('integrator')}"}
    receiver.hook("broken").always = 500
    made = await api.post(BASE, json={"url": receiver.url("broken"), "event_types": ["*"]},
                          headers=headers)
    assert made.status_code == 201, made.text
    endpoint_id = made.json()["data"]["id"]
    sent = await api.post(f"{BASE}/{endpoint_id}/test", headers=headers)
    assert sent.status_code == 202, sent.text
    await _until(api, endpoint_id, headers, "exhausted")
