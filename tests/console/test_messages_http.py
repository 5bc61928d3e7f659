"""The overview and message pages over HTTP with a signed-in session (the sign-in form, as a
browser posts it): rendering, filters, masked detail, the CSRF-checked and audited reveal,
and the pages refused to a role that may not see them."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from adapters.db.tables import AuditEventRow
from tests.operations.test_message_log import _send, message
from tests.support import Harness, make_settings, running_app


@contextlib.asynccontextmanager
async def signed_in(h: Harness, *roles: str, sub: str = "operator"
                    ) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same app holding a console session cookie."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=h.app),
                                 base_url="http://testserver") as client:
        form = await client.get("/console/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        answer = await client.post("/console/sign-in", data={
            "csrf_token": token.group(1), "token": h.token(*roles, sub=sub), "next": ""})
        assert answer.status_code == 303, answer.text
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', html)
    assert found, html
    return found.group(1)


@pytest.fixture
async def h(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    async with running_app(make_settings(tmp_path / "var", sqlite_url)) as harness:
        yield harness


async def test_message_list_filters_detail_and_audited_reveal(h: Harness) -> None:
    first = (await _send(h, message(1))).json()["data"]["lab_result_id"]
    await _send(h, message(2, facility="OTHER_LAB"))
    await _send(h, message(1, value="9.9"))  # refused: control id reused
    async with signed_in(h, "integrator", sub="officer-7") as console:
        page = await console.get("/console/messages")
        assert page.status_code == 200
        assert page.text.count('class="open-message"') == 3
        assert "MSG001" in page.text and "OTHER_LAB" in page.text
        assert "ODHIAMBO" not in page.text  # the list names no patient
        refused = await console.get("/console/messages", params={"channel": "hl7-refused"})
        assert refused.text.count('class="open-message"') == 1
        partial = await console.get("/console/messages", params={"sender": "OTHER_LAB"},
                                    headers={"HX-Request": "true",
                                             "HX-Target": "message-results"})
        assert partial.text.count('class="open-message"') == 1 and "<html" not in partial.text
        restored = await console.get("/console/messages", params={"sender": "OTHER_LAB"},
                                     headers={"HX-Request": "true",
                                              "HX-Target": "message-results",
                                              "HX-History-Restore-Request": "true"})
        assert "<html" in restored.text  # the back button gets the whole page
        paged = await console.get("/console/messages", params={"after": "nonsense"})
        assert paged.status_code == 200 and 'role="alert"' in paged.text

        detail = await console.get(f"/console/messages/{first}")
        assert detail.status_code == 200
        assert "ODHIAMBO" not in detail.text and 'title="PID-5"' in detail.text
        assert 'title="OBX-5"' in detail.text and ">7.5<" in detail.text
        assert "HTTP 200: stored" in detail.text and first in detail.text
        missing = await console.get("/console/messages/nope")
        assert missing.status_code == 404

        forged = await console.post(f"/console/messages/{first}/reveal", data={})
        assert forged.status_code == 403 and "ODHIAMBO" not in forged.text
        shown = await console.post(f"/console/messages/{first}/reveal",
                                   data={"csrf_token": csrf_of(detail.text)})
        assert shown.status_code == 200 and "ODHIAMBO" in shown.text
    async with h.engine.connect() as conn:
        table = AuditEventRow.__table__  # type: ignore[attr-defined]
        reveals = (await conn.execute(select(table).where(
            table.c.purpose == "console-reveal"))).mappings().all()
    assert [(r["subject"], r["resource_id"], r["surface"]) for r in reveals] == [
        ("officer-7", first, "console")]


async def test_overview_shows_each_channel_and_chart_data(h: Harness) -> None:
    await _send(h, message(1))
    await _send(h, message(1, value="9.9"))
    async with signed_in(h, "admin") as console:
        for window in ("hour", "day", "week", "bogus"):
            page = await console.get("/console/overview", params={"window": window})
            assert page.status_code == 200
            assert 'data-channel="hl7-http"' in page.text
            assert 'data-channel="hl7-refused"' in page.text
            assert 'id="traffic-data"' in page.text and "uPlot.iife.min.js" in page.text
        assert 'href="/console/overview"' in page.text  # in the navigation


async def test_a_clinician_gets_the_friendly_refusal(h: Harness) -> None:
    async with signed_in(h, "clinician") as console:
        for path in ("/console/overview", "/console/messages", "/console/messages/x"):
            refused = await console.get(path)
            assert refused.status_code == 403, path
        assert 'href="/console/messages"' not in refused.text
