"""Orange Money end to end: the whole gateway over real HTTP, the fake Web Payment API, and
notifications posted by the fake to the gateway's real notif_url.

The notification is unsigned: only its ``notif_token`` (returned at init, stored hashed) and
the URL's per-payment token authenticate it, and only the ``transactionstatus`` answer moves
the payment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.payments.e2e_support import (
    events,
    inbox_idle,
    live_gateway,
    orange_env,
    payment,
    reconcile,
    start,
    statuses,
    transitions_to,
    wait_status,
)
from tests.payments.fakes.base import serving
from tests.payments.fakes.orange import FakeOrange, OrangeScenario
from tests.support import Harness

pytestmark = pytest.mark.slow
BODY = {"provider": "orange_money", "amount": 2500, "currency": "OUV", "phone": "07 07 07 07 07",
        "country": "CI", "reference": "LAB-20260301-0042"}


@pytest.fixture
async def orange() -> AsyncIterator[FakeOrange]:
    async with serving(FakeOrange()) as fake:
        assert isinstance(fake, FakeOrange)
        yield fake


@pytest.fixture
async def gw(tmp_path: Path, orange: FakeOrange) -> AsyncIterator[Harness]:
    async with live_gateway(tmp_path, orange_env(orange)) as harness:
        yield harness


def _inits(fake: FakeOrange) -> list[object]:
    return fake.calls(f"/orange-money-webpay/{fake.country}/v1/webpayment")


def _status_calls(fake: FakeOrange) -> int:
    return len(fake.calls(f"/orange-money-webpay/{fake.country}/v1/transactionstatus"))


async def test_web_payment_redirect_then_notification_then_status_succeeds(
        gw: Harness, orange: FakeOrange) -> None:
    orange.scenarios.default = OrangeScenario(notify_delay=0.3)
    created = await start(gw, BODY, "o1")
    assert created["status"] == "pending" and created["phone"] == "+2250707070707"
    [init] = orange.calls(f"/orange-money-webpay/{orange.country}/v1/webpayment")
    order = orange.orders[init.json["order_id"]]
    assert created["redirect_url"] == f"{orange.base_url}/payment/pay_token/{order.pay_token}"
    assert created["provider_reference"] == order.pay_token
    assert init.json["notif_url"].startswith(
        f"{gw.settings.public_base_url}/api/payments/webhooks/orange-money?token=")
    assert init.json["amount"] == 2500 and init.json["currency"] == "OUV"
    done = await wait_status(gw, created["id"])
    await orange.settle()
    assert orange.callbacks[0].status == 200
    assert done["status"] == "succeeded" and done["provider_transaction_id"] == order.txnid
    assert statuses(done) == ["created", "pending", "succeeded"]
    assert done["history"][-1]["source"] == "callback"
    assert order.queries >= 1, "confirmed by the transaction status call"
    assert len(_inits(orange)) == 1


async def test_forged_notif_token_is_refused_and_changes_nothing(gw: Harness,
                                                                 orange: FakeOrange) -> None:
    orange.scenarios.default = OrangeScenario(forged_notif_token=True, notify_delay=0.2)
    created = await start(gw, BODY, "forged")
    await orange.settle()
    [sent] = orange.callbacks
    assert sent.status == 401
    assert sent.json["status"] == "SUCCESS"
    after = await payment(gw, created["id"])
    assert after["status"] == "pending" and statuses(after) == ["created", "pending"]
    assert await events(gw, "orange_money") == [], "nothing stored"
    assert _status_calls(orange) == 0, "a refused notification triggers no status query"
    # The honest answer still settles it later, by the reconciler's authenticated query.
    await reconcile(gw, created["id"])
    assert (await payment(gw, created["id"]))["status"] == "succeeded"


async def test_delayed_notification_while_the_customer_is_still_paying(
        gw: Harness, orange: FakeOrange) -> None:
    orange.scenarios.default = OrangeScenario(initiated_queries=1, notify_delay=1.0)
    created = await start(gw, BODY, "delayed")
    await reconcile(gw, created["id"])  # before the notification: Orange says INITIATED
    mid = await payment(gw, created["id"])
    assert mid["status"] == "pending" and orange.callbacks == []
    done = await wait_status(gw, created["id"], timeout=10)
    assert done["status"] == "succeeded" and done["history"][-1]["source"] == "callback"
    assert statuses(done) == ["created", "pending", "succeeded"]


async def test_duplicated_concurrent_notifications_change_the_payment_once(
        gw: Harness, orange: FakeOrange) -> None:
    orange.scenarios.default = OrangeScenario(notify_copies=20, notify_concurrent=True,
                                              notify_delay=0.2)
    created = await start(gw, BODY, "dups")
    await orange.settle()
    assert sorted(c.status or 0 for c in orange.callbacks) == [200] * 20
    done = await wait_status(gw, created["id"])
    await inbox_idle(gw, "orange_money", count=1)
    assert done["status"] == "succeeded"
    assert statuses(await payment(gw, created["id"])) == ["created", "pending", "succeeded"]
    assert await transitions_to(gw, created["id"], "succeeded") == 1


async def test_expired_web_payment_becomes_expired(gw: Harness, orange: FakeOrange) -> None:
    orange.scenarios.default = OrangeScenario(final_status="EXPIRED", notify_delay=0.2)
    created = await start(gw, BODY, "expired")
    done = await wait_status(gw, created["id"])
    assert done["status"] == "expired" and done["failure_reason"] == "EXPIRED"
    assert statuses(done) == ["created", "pending", "expired"]


async def test_notification_claiming_success_while_the_status_says_failed(
        gw: Harness, orange: FakeOrange) -> None:
    orange.scenarios.default = OrangeScenario(final_status="FAILED", notify_status="SUCCESS",
                                              notify_delay=0.2)
    created = await start(gw, BODY, "liar")
    done = await wait_status(gw, created["id"])
    await orange.settle()
    assert orange.callbacks[0].json["status"] == "SUCCESS" and orange.callbacks[0].status == 200
    assert done["status"] == "failed" and done["failure_reason"] == "FAILED"
    assert done["provider_transaction_id"] is None
    assert await transitions_to(gw, created["id"], "succeeded") == 0


async def test_notification_that_never_comes_is_settled_by_the_reconciler(
        gw: Harness, orange: FakeOrange) -> None:
    orange.scenarios.default = OrangeScenario(notify=False, pending_queries=1)
    created = await start(gw, BODY, "silent")
    await reconcile(gw, created["id"])
    assert (await payment(gw, created["id"]))["status"] == "pending"  # Orange: PENDING
    await reconcile(gw, created["id"])
    done = await payment(gw, created["id"])
    assert done["status"] == "succeeded" and done["history"][-1]["source"] == "reconcile"
    assert _status_calls(orange) == 2 and orange.callbacks == []
