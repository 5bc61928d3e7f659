"""The console's health page shows each payment provider's calls (issue 17): against the fake
MTN MoMo Open API over real HTTP, a provider that answers 503 shows failing with its error,
then ok after it answers again; after a restart on the same database the stored last answer
is still shown. /readyz lists the provider's state without ever becoming unready over it.
Stripe's refund calls (through the fake Stripe API) are recorded the same way."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.console.http_support import sign_in
from tests.payments.e2e_support import live_gateway, momo_env, start
from tests.payments.fakes.base import serving
from tests.payments.fakes.momo import FakeMomo
from tests.payments.fakes.stripe_api import REFUNDS, FakeStripe
from tests.payments.test_stripe_refunds import paid, refund
from tests.support import Harness

pytestmark = pytest.mark.slow
RTP = "/collection/v1_0/requesttopay"
SANDBOX = {"provider": "mtn_momo", "amount": 1500, "currency": "EUR", "reference": "INV-9"}
CELL = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)
TAG = re.compile(r"<[^>]+>")


@pytest.fixture
async def momo() -> AsyncIterator[FakeMomo]:
    async with serving(FakeMomo()) as fake:
        assert isinstance(fake, FakeMomo)
        yield fake


async def _row(gw: Harness, provider: str) -> tuple[str, list[str]]:
    """(state, cells) of the provider's row on /console/health: provider, configured, state,
    last success, stored last answer, last failure, error, failures in a row."""
    page = await gw.client.get("/console/health")
    assert page.status_code == 200, page.text
    found = re.search(rf'<tr id="provider-{provider}" data-state="(\w+)">(.*?)</tr>',
                      page.text, re.S)
    assert found, page.text
    cells = [html.unescape(TAG.sub("", c)).strip() for c in CELL.findall(found.group(2))]
    return found.group(1), cells


async def test_failing_provider_then_success_then_stored_answer_after_restart(
        tmp_path: Path, momo: FakeMomo) -> None:
    async with live_gateway(tmp_path, momo_env(momo)) as gw:
        await sign_in(gw, "integrator")
        state, cells = await _row(gw, "mtn_momo")
        assert state == "unknown" and cells[:2] == ["MTN MoMo", "yes"]
        assert cells[3:] == ["—", "—", "—", "", "0"]
        assert (await _row(gw, "mpesa"))[1][1] == "no"  # not configured here

        momo.fail(RTP, 503, times=3)
        for n in range(3):  # each request to pay answers 503: outcome unknown, to be queried
            created = await start(gw, {**SANDBOX, "phone": f"+4673312345{n}"}, f"down-{n}")
            assert created["status"] == "pending"
        state, cells = await _row(gw, "mtn_momo")
        assert state == "failing" and cells[7] == "3"
        assert cells[3] == "—" and cells[5] != "—"  # no success yet, a failure
        assert cells[6].startswith("ProviderUnavailable: ") and "503" in cells[6]
        assert "46733123450" not in cells[6]  # no phone number on the page
        ready = await gw.client.get("/readyz")
        assert ready.status_code == 200  # a failing provider never makes the gateway unready
        assert ready.json()["details"]["payments.mtn_momo"] == "failing"

        created = await start(gw, {**SANDBOX, "phone": "+46733123459"}, "up")
        assert created["status"] == "pending" and created["provider_reference"]
        state, cells = await _row(gw, "mtn_momo")
        assert state == "ok" and cells[7] == "0"
        assert cells[3] != "—" and cells[4] != "—"  # this process's success, the stored answer
        assert cells[5] != "—" and cells[6]  # the last failure is still shown
        stored = cells[4]
        assert (await gw.client.get("/readyz")).json()["details"]["payments.mtn_momo"] == "ok"

    # A new process on the same database: nothing called yet, the stored answer remains.
    async with live_gateway(tmp_path, momo_env(momo)) as gw:
        await sign_in(gw, "integrator")
        state, cells = await _row(gw, "mtn_momo")
        assert state == "unknown" and cells[3] == "—" and cells[7] == "0"
        # Kept, or a later one: MoMo's callback for "up", or a status query of the pending
        # payments, may store an answer after the first process read it (a CI run saw it
        # move from :19 to :20). Times are "YYYY-MM-DD HH:MM:SS UTC", so text order is time.
        assert cells[4] != "—" and cells[4] >= stored


async def test_the_payment_providers_card_is_in_french(tmp_path: Path, momo: FakeMomo) -> None:
    async with live_gateway(tmp_path, momo_env(momo)) as gw:
        await sign_in(gw, "integrator")
        page = await gw.client.get("/console/health", headers={"Accept-Language": "fr"})
        assert page.status_code == 200
        assert "Prestataires de paiement" in page.text and "inconnu (pas encore appelé)" in page.text


async def test_stripe_refund_failure_then_success_and_its_stored_answer(
        stripe_app: Harness, fake_stripe: FakeStripe) -> None:
    h = stripe_app
    p = await paid(h, fake_stripe, "health")  # a signed Stripe event: a stored answer
    await sign_in(h, "integrator")
    state, cells = await _row(h, "stripe")
    assert state == "unknown" and cells[1] == "yes" and cells[4] != "—"

    fake_stripe.fail(REFUNDS, 500, times=2)  # the SDK's request and its one retry
    assert (await refund(h, p["id"], "refund-down", amount=100)).status_code >= 400
    state, cells = await _row(h, "stripe")
    assert state == "degraded" and cells[7] == "1" and cells[6].startswith("ProviderUnavailable")

    assert (await refund(h, p["id"], "refund-up", amount=100)).status_code == 201
    state, cells = await _row(h, "stripe")
    assert state == "ok" and cells[7] == "0" and cells[3] != "—"
