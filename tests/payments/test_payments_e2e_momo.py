"""MTN MoMo end to end: the whole gateway over real HTTP, the fake MoMo Open API, real callbacks.

Request-to-pay (local phone forms in Uganda and Ghana, the sandbox's EUR and its magic
MSISDNs), the callback that never comes (MTN sends once: the poller settles), a lying
callback, 20 identical callbacks at once, and disbursement payouts.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.payments.e2e_support import (
    events,
    inbox_idle,
    live_gateway,
    momo_env,
    payment,
    reconcile,
    start,
    statuses,
    transitions_to,
    wait_status,
)
from tests.payments.fakes.base import serving
from tests.payments.fakes.momo import FakeMomo, MomoScenario
from tests.support import Harness, fresh_postgres_database

pytestmark = pytest.mark.slow
RTP = "/collection/v1_0/requesttopay"
TRANSFER = "/disbursement/v1_0/transfer"
SANDBOX = {"provider": "mtn_momo", "amount": 1500, "currency": "EUR", "reference": "INV-7781"}


@pytest.fixture
async def momo() -> AsyncIterator[FakeMomo]:
    async with serving(FakeMomo()) as fake:
        assert isinstance(fake, FakeMomo)
        yield fake


@pytest.fixture
async def gw(tmp_path: Path, momo: FakeMomo) -> AsyncIterator[Harness]:
    """Gateway and fake in MoMo's sandbox (EUR only)."""
    async with live_gateway(tmp_path, momo_env(momo)) as harness:
        yield harness


def _created(fake: FakeMomo, path: str = RTP) -> list[Any]:
    return fake.calls(path, "POST")


def _status_queries(fake: FakeMomo, path: str = RTP) -> list[Any]:
    return [r for r in fake.requests if r.method == "GET" and r.path.startswith(path + "/")]


@pytest.mark.parametrize(("environment", "currency", "phone", "msisdn", "method"), [
    ("mtnuganda", "UGX", "0772 123456", "256772123456", "POST"),
    ("mtnghana", "GHS", "024 412 3456", "233244123456", "PUT"),
])
async def test_request_to_pay_local_phone_pending_then_callback_succeeds(
        tmp_path: Path, momo: FakeMomo, environment: str, currency: str, phone: str,
        msisdn: str, method: str) -> None:
    momo.target_environment = environment
    momo.scenarios.default = MomoScenario(pending_seconds=0.3, callback_method=method)
    async with live_gateway(tmp_path, momo_env(momo)) as gw:
        created = await start(gw, {"provider": "mtn_momo", "amount": 1500, "currency": currency,
                                   "phone": phone, "reference": "INV-7781"}, "m1")
        assert created["status"] == "pending" and created["phone"] == "+" + msisdn
        [sent] = _created(momo)
        assert sent.json["payer"] == {"partyIdType": "MSISDN", "partyId": msisdn}
        assert sent.json["currency"] == currency
        assert sent.json["amount"] == ("1500" if currency == "UGX" else "15")
        assert sent.headers["x-reference-id"] == created["provider_reference"]
        assert sent.headers["x-callback-url"].startswith(
            f"{gw.settings.public_base_url}/api/payments/webhooks/mtn-momo?token=")
        done = await wait_status(gw, created["id"])
        await momo.settle()
        [callback] = momo.callbacks
        assert callback.method == method and callback.status == 200
        assert done["status"] == "succeeded"
        assert statuses(done) == ["created", "pending", "succeeded"]
        assert done["history"][-1]["source"] == "callback"
        assert done["provider_transaction_id"] == momo.transactions[
            created["provider_reference"]].financial_id
        # The claim was confirmed by the authenticated status query, not believed.
        assert len(_status_queries(momo)) >= 1
        assert all(q.headers["authorization"].startswith("Bearer ") for q in _status_queries(momo))
        assert len(_created(momo)) == 1


async def test_callback_that_never_comes_is_settled_by_the_poller(gw: Harness,
                                                                  momo: FakeMomo) -> None:
    scenario = MomoScenario(pending_forever=True, callback=False)
    momo.scenarios.for_key("46733123999", scenario)
    created = await start(gw, {**SANDBOX, "phone": "+46733123999"}, "poll")
    assert created["status"] == "pending"
    assert await reconcile(gw, created["id"]) == 1
    assert (await payment(gw, created["id"]))["status"] == "pending"  # MoMo still PENDING
    scenario.pending_forever = False  # the payer approves; MTN's callback is never sent
    assert await reconcile(gw, created["id"]) == 1
    done = await payment(gw, created["id"])
    assert done["status"] == "succeeded" and done["history"][-1]["source"] == "reconcile"
    assert statuses(done) == ["created", "pending", "succeeded"]
    assert len(_status_queries(momo)) == 2 and len(_created(momo)) == 1
    assert momo.callbacks == []


async def test_callback_claiming_success_while_the_status_says_failed(gw: Harness,
                                                                      momo: FakeMomo) -> None:
    momo.scenarios.for_key("46733123998", MomoScenario(
        "FAILED", "NOT_ENOUGH_FUNDS", callback_status="SUCCESSFUL", callback_delay=0.2))
    created = await start(gw, {**SANDBOX, "phone": "+46733123998"}, "liar")
    done = await wait_status(gw, created["id"])
    await momo.settle()
    assert momo.callbacks[0].json["status"] == "SUCCESSFUL" and momo.callbacks[0].status == 200
    assert done["status"] == "failed" and done["failure_reason"] == "NOT_ENOUGH_FUNDS"
    assert statuses(done) == ["created", "pending", "failed"]
    assert await transitions_to(gw, created["id"], "succeeded") == 0


@pytest.mark.parametrize(("msisdn", "expected", "reason"), [
    ("46733123450", "failed", "INTERNAL_PROCESSING_ERROR"),
    ("46733123451", "cancelled", "APPROVAL_REJECTED"),  # the payer rejected it
    ("46733123452", "expired", "EXPIRED"),
    ("46733123455", "failed", "PAYER_NOT_FOUND"),
])
async def test_sandbox_magic_msisdns(gw: Harness, momo: FakeMomo, msisdn: str, expected: str,
                                     reason: str) -> None:
    created = await start(gw, {**SANDBOX, "phone": msisdn}, f"magic-{msisdn}")
    done = await wait_status(gw, created["id"])
    assert done["status"] == expected and done["failure_reason"] == reason
    assert done["history"][-1]["source"] == "callback"
    assert done["provider_transaction_id"] is None


async def test_ongoing_payment_expires_long_after_its_expiry(gw: Harness, momo: FakeMomo) -> None:
    created = await start(gw, {**SANDBOX, "phone": "46733123453"}, "ongoing")  # PENDING forever
    await reconcile(gw, created["id"], expired_for=60)
    assert (await payment(gw, created["id"]))["status"] == "pending"  # still within the grace
    await reconcile(gw, created["id"], expired_for=2 * 86400)
    done = await payment(gw, created["id"])
    assert done["status"] == "expired" and done["failure_reason"] == "unresolved"
    assert len(_created(momo)) == 1


def _callback_url(fake: FakeMomo, path: str = RTP) -> str:
    return str(_created(fake, path)[-1].headers["x-callback-url"])


def _successful_body(fake: FakeMomo, reference: str, party: str = "payer") -> dict[str, Any]:
    tx = fake.transactions[reference]
    return {**{k: tx.body.get(k) for k in ("amount", "currency", "externalId", party,
                                           "payerMessage", "payeeNote")},
            "status": "SUCCESSFUL", "financialTransactionId": tx.financial_id}


async def _twenty_at_once(gw: Harness, momo: FakeMomo, phone: str) -> None:
    momo.scenarios.for_key(phone, MomoScenario(callback=False))
    created = await start(gw, {**SANDBOX, "phone": "+" + phone}, "twenty")
    momo.send_callback(_callback_url(momo), _successful_body(momo, created["provider_reference"]),
                       copies=20, concurrent=True)
    await momo.settle()
    assert sorted(c.status or 0 for c in momo.callbacks) == [200] * 20
    done = await wait_status(gw, created["id"])
    stored = await inbox_idle(gw, "mtn_momo", count=1)  # deduplicated on the provider's id
    assert stored[0]["status"] == "processed"
    assert done["status"] == "succeeded"
    final = await payment(gw, created["id"])
    assert statuses(final) == ["created", "pending", "succeeded"]
    assert await transitions_to(gw, created["id"], "succeeded") == 1


async def test_twenty_identical_callbacks_at_once_change_the_payment_once(
        gw: Harness, momo: FakeMomo) -> None:
    await _twenty_at_once(gw, momo, "46733123997")


async def test_twenty_identical_callbacks_at_once_on_postgresql(tmp_path: Path,
                                                                momo: FakeMomo) -> None:
    async with fresh_postgres_database() as url, \
            live_gateway(tmp_path, momo_env(momo), url) as gw:
        await _twenty_at_once(gw, momo, "46733123996")


PAYOUT = {**SANDBOX, "reference": "REFUND-12", "phone": "+46733123995"}


async def test_disbursement_payout_settles_by_its_callback(gw: Harness, momo: FakeMomo) -> None:
    momo.scenarios.for_key("46733123995", MomoScenario(pending_seconds=0.2))
    created = await start(gw, PAYOUT, "payout-1", "/api/payments/payouts")
    assert created["direction"] == "payout" and created["status"] == "pending"
    [sent] = _created(momo, TRANSFER)
    assert sent.json["payee"] == {"partyIdType": "MSISDN", "partyId": "46733123995"}
    assert sent.headers["ocp-apim-subscription-key"] == momo.disbursement_key
    assert "kind=result" in sent.headers["x-callback-url"]
    done = await wait_status(gw, created["id"])
    assert done["status"] == "succeeded" and done["history"][-1]["source"] == "callback"
    assert statuses(done) == ["created", "pending", "succeeded"]
    assert momo.executed("disbursement") == 1 and _created(momo) == []
    assert len(_status_queries(momo, TRANSFER)) >= 1


async def test_disbursement_without_callback_is_polled_and_never_resent(
        gw: Harness, momo: FakeMomo) -> None:
    scenario = MomoScenario("FAILED", "PAYEE_NOT_FOUND", pending_forever=True, callback=False)
    momo.scenarios.for_key("46733123995", scenario)
    created = await start(gw, PAYOUT, "payout-2", "/api/payments/payouts")
    await reconcile(gw, created["id"], expired_for=2 * 86400)
    still = await payment(gw, created["id"])
    assert still["status"] == "pending", "payouts are never given up on by the gateway"
    scenario.pending_forever = False
    await reconcile(gw, created["id"])
    done = await payment(gw, created["id"])
    assert done["status"] == "failed" and done["failure_reason"] == "PAYEE_NOT_FOUND"
    assert len(_created(momo, TRANSFER)) == 1 and momo.executed("disbursement") == 1
    assert await events(gw, "mtn_momo") == []


async def test_forged_callback_token_is_refused(gw: Harness, momo: FakeMomo) -> None:
    momo.scenarios.for_key("46733123994", MomoScenario(callback=False))
    created = await start(gw, {**SANDBOX, "phone": "+46733123994"}, "forged")
    body = _successful_body(momo, created["provider_reference"])
    url = _callback_url(momo).split("?token=")[0] + "?token=" + uuid.uuid4().hex
    momo.send_callback(url, body, method="PUT")
    await momo.settle()
    assert momo.callbacks[0].status == 401
    assert (await payment(gw, created["id"]))["status"] == "pending"
    assert await events(gw, "mtn_momo") == []
