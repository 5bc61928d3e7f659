"""Pausing and resuming an outbox destination from the failures page over HTTP: an
integrator does it with the page's CSRF token (htmx swaps the section, a plain form comes
back to the page), the state shows who paused and since when; a clinician cannot open it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from resolvers.outbox.model import OutboxMessage
from tests.console.http_support import page_csrf, sign_in
from tests.support import Harness, make_settings, running_app

DESTINATION = "test_lis"
SWITCH = "/console/failures/destinations/switch"


class Recorded:
    async def deliver(self, message: OutboxMessage) -> None:
        return None


@pytest.fixture
async def gateway(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    def handlers(client: httpx.AsyncClient) -> dict[str, Recorded]:
        return {DESTINATION: Recorded()}

    async with running_app(make_settings(tmp_path / "var", sqlite_url),
                           extra_handlers=handlers) as h:
        yield h


async def _paused(gateway: Harness) -> bool:
    r = await gateway.client.get("/api/admin/outbox/destinations", headers=gateway.auth("admin"))
    return any(d["destination"] == DESTINATION and d["paused"] for d in r.json()["data"]["items"])


async def test_an_integrator_pauses_and_resumes_a_destination(gateway: Harness) -> None:
    await sign_in(gateway, "integrator", sub="ops@clinic")
    page = await gateway.client.get("/console/failures")
    assert page.status_code == 200
    assert f'data-destination-switch="{DESTINATION}"' in page.text
    assert "no per-destination switch" not in page.text
    token = await page_csrf(gateway, "/console/failures")

    refused = await gateway.client.post(SWITCH, data={"destination": DESTINATION,
                                                      "action": "pause"},
                                        headers={"HX-Request": "true"})  # no CSRF token
    assert refused.status_code == 403 and not await _paused(gateway)

    paused = await gateway.client.post(
        SWITCH, data={"destination": DESTINATION, "action": "pause", "reason": "LIS upgrade"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert paused.status_code == 200
    assert paused.text.lstrip().startswith('<section')  # the section, not the page
    assert f"{DESTINATION} is paused" in paused.text
    assert "by ops@clinic" in paused.text and "LIS upgrade" in paused.text
    assert await _paused(gateway)

    unknown = await gateway.client.post(
        SWITCH, data={"destination": "nowhere", "action": "pause"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert unknown.status_code == 200 and "No outbox destination nowhere." in unknown.text

    # Without htmx the form posts and comes back to the page.
    resumed = await gateway.client.post(SWITCH, data={
        "destination": DESTINATION, "action": "resume", "csrf_token": token})
    assert resumed.status_code == 303 and resumed.headers["location"] == "/console/failures"
    assert not await _paused(gateway)


async def test_a_clinician_can_neither_open_the_page_nor_switch(gateway: Harness) -> None:
    await sign_in(gateway, "clinician")
    assert (await gateway.client.get("/console/failures")).status_code == 403
    token = await page_csrf(gateway, "/console/review")  # a page a clinician may open
    refused = await gateway.client.post(SWITCH, data={"destination": DESTINATION,
                                                      "action": "pause", "csrf_token": token})
    assert refused.status_code == 403 and not await _paused(gateway)
