"""Refused messages in the console's message log over HTTP: garbage posted to the HL7 route
and a Stripe delivery with a bad signature are listed as refused with their reason, found by
the status and channel filters, and open to the masked body, the reason and the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.console.test_messages_http import signed_in
from tests.operations.test_message_log import _send, message
from tests.operations.test_refused_messages import BROKEN
from tests.support import Harness, make_settings, running_app
from tests.webhooks.signing import WEBHOOK_ENV, stripe_event, stripe_headers


@pytest.fixture
async def h(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path / "var", sqlite_url, **WEBHOOK_ENV)
    async with running_app(settings) as harness:
        yield harness


def _rows(html: str) -> int:
    return html.count('class="open-message"')


async def test_refused_messages_are_listed_filtered_and_opened(h: Harness) -> None:
    assert (await _send(h, message(1))).status_code == 200
    answer = await _send(h, BROKEN)
    assert answer.status_code == 400
    raw = stripe_event()
    forged = await h.client.post("/api/webhooks/stripe", content=raw,
                                 headers=stripe_headers(raw, secret="whsec_wrong"))
    assert forged.status_code == 401
    async with signed_in(h, "integrator", sub="officer-7") as console:
        page = await console.get("/console/messages")
        assert page.status_code == 200 and _rows(page.text) == 3
        assert "OBX before any OBR" in page.text and "GARBAGE_LAB" in page.text
        refused = await console.get("/console/messages", params={"status": "refused"})
        assert _rows(refused.text) == 2 and "webhook:stripe" in refused.text
        assert "MSG001" not in refused.text
        hl7 = await console.get("/console/messages",
                                params={"status": "refused", "channel": "hl7-http",
                                        "control_id": "CTRL9"})
        assert _rows(hl7.text) == 1
        message_id = hl7.text.split('href="/console/messages/', 1)[1].split('"', 1)[0]
        opened = await console.get(f"/console/messages/{message_id}")
        assert opened.status_code == 200
        assert "ODHIAMBO" not in opened.text and "O•••" in opened.text  # PID-5 masked
        assert "HTTP 400: OBX before any OBR" in opened.text  # the answer sent
        assert 'id="became"' in opened.text and "Why it was refused" in opened.text
    # Another role may not read the log (unchanged rule).
    async with signed_in(h, "clinician") as console:
        assert (await console.get("/console/messages")).status_code == 403
