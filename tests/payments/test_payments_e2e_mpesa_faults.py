"""M-Pesa faults end to end: the whole gateway over real HTTP and the fake Daraja.

test_payments_e2e.py covers the happy STK push and 20 concurrent callbacks (SQLite, and two
processes on PostgreSQL). Here: a delayed callback, a callback that never comes, callbacks
that lie (state, amount, payer), a B2C queue timeout, and an STK push whose answer is slower
than the client timeout (outcome unknown: never sent again).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.payments.e2e_support import (
    events,
    live_gateway,
    mpesa_env,
    payment,
    reconcile,
    start,
    statuses,
    transitions_to,
    wait_status,
)
from tests.payments.fakes.base import serving
from tests.payments.fakes.daraja import B2C, STATUS, STK, STK_QUERY, B2CScenario, FakeDaraja, StkScenario
from tests.receiver import eventually
from tests.support import Harness

pytestmark = pytest.mark.slow
BODY = {"provider": "mpesa", "amount": 50000, "currency": "KES", "phone": "0711000111",
        "reference": "CONSULT4821"}


@pytest.fixture
async def daraja() -> AsyncIterator[FakeDaraja]:
    async with serving(FakeDaraja()) as fake:
        assert isinstance(fake, FakeDaraja)
        yield fake


@pytest.fixture
async def gw(tmp_path: Path, daraja: FakeDaraja) -> AsyncIterator[Harness]:
    # A failed inbox attempt is retried only after a long backoff: tests drive the retries.
    async with live_gateway(tmp_path, {**mpesa_env(daraja), "CARI_OUTBOX_BACKOFF_BASE": "120"}
                            ) as harness:
        yield harness


def _push(fake: FakeDaraja, created: dict[str, Any]) -> Any:
    return fake.pushes[created["provider_reference"]]


async def test_delayed_callback(gw: Harness, daraja: FakeDaraja) -> None:
    daraja.stk.default = StkScenario(callback_delay=1.0, processing_queries=1)
    created = await start(gw, BODY, "delayed")
    assert created["status"] == "pending"
    await reconcile(gw, created["id"])  # the customer has not answered: "being processed"
    mid = await payment(gw, created["id"])
    assert mid["status"] == "pending" and daraja.callbacks == []
    done = await wait_status(gw, created["id"])
    assert done["status"] == "succeeded" and done["history"][-1]["source"] == "callback"
    assert statuses(done) == ["created", "pending", "succeeded"]
    assert done["provider_transaction_id"].startswith("TC")  # the callback's receipt number
    assert _push(daraja, created).queries == 2 and len(daraja.calls(STK)) == 1


async def test_callback_never_arrives_reconciler_queries_until_settled(
        gw: Harness, daraja: FakeDaraja) -> None:
    daraja.stk.default = StkScenario(callback=False, processing_queries=2)
    created = await start(gw, BODY, "silent")
    for _ in range(2):
        assert await reconcile(gw, created["id"]) == 1
        assert (await payment(gw, created["id"]))["status"] == "pending"
    await reconcile(gw, created["id"])
    done = await payment(gw, created["id"])
    assert done["status"] == "succeeded" and done["history"][-1]["source"] == "reconcile"
    assert statuses(done) == ["created", "pending", "succeeded"]
    assert _push(daraja, created).queries == 3 and len(daraja.calls(STK_QUERY)) == 3
    assert len(daraja.calls(STK)) == 1 and daraja.callbacks == []


async def test_callback_claims_success_while_the_query_says_cancelled(
        gw: Harness, daraja: FakeDaraja) -> None:
    daraja.stk.default = StkScenario(result_code=1032, callback_result_code=0, callback_delay=0.2)
    created = await start(gw, BODY, "liar")
    done = await wait_status(gw, created["id"])
    await daraja.settle()
    assert daraja.callbacks[0].json["Body"]["stkCallback"]["ResultCode"] == 0
    assert done["status"] == "cancelled" and done["failure_reason"].startswith("1032")
    assert statuses(done) == ["created", "pending", "cancelled"]
    assert await transitions_to(gw, created["id"], "succeeded") == 0


@pytest.mark.parametrize(("scenario", "problem"), [
    (StkScenario(callback_amount=1, callback_delay=0.2), "amount_mismatch"),
    (StkScenario(callback_phone=254722000999, callback_delay=0.2), "payer_mismatch"),
])
async def test_callback_claiming_another_amount_or_payer_fails(
        gw: Harness, daraja: FakeDaraja, scenario: StkScenario, problem: str) -> None:
    daraja.stk.default = scenario
    created = await start(gw, BODY, problem)
    done = await wait_status(gw, created["id"])
    assert done["status"] == "failed" and done["failure_reason"] == problem
    assert statuses(done) == ["created", "pending", "failed"]
    assert len(daraja.calls(STK_QUERY)) == 1  # the query said 0: only the claim differed


PAYOUT = {**BODY, "reference": "REFUND-12", "amount": 100000}


async def test_b2c_queue_timeout_keeps_the_payout_pending_until_a_later_result(
        gw: Harness, daraja: FakeDaraja) -> None:
    daraja.b2c.default = B2CScenario(queue_timeout=True)
    daraja.fail(STATUS, 503)  # the first Transaction Status query finds Daraja down
    created = await start(gw, PAYOUT, "b2c", "/api/payments/payouts")
    assert created["status"] == "pending" and created["direction"] == "payout"
    await daraja.settle()
    [timeout] = daraja.callbacks
    assert "kind=timeout" in timeout.url and timeout.status == 200
    # The timeout was handled (a status query was asked for and failed): still pending.
    stored = await eventually(lambda: events(gw, "mpesa"),
                              lambda found: [e["status"] for e in found] == ["failed"])
    assert stored[0]["event_type"] == "payment.payout_timeout"
    mid = await payment(gw, created["id"])
    assert mid["status"] == "pending" and statuses(mid) == ["created", "pending"]
    # The reconciler asks again; Daraja posts the Transaction Status result to the ResultURL.
    await reconcile(gw, created["id"])
    done = await wait_status(gw, created["id"])
    assert done["status"] == "succeeded"
    assert statuses(done) == ["created", "pending", "succeeded"]
    assert done["history"][-1]["source"] == "callback"
    assert len(daraja.calls(B2C)) == 1, "a payout whose outcome is unknown is never resent"
    assert daraja.executed_payouts == 1
    assert len(daraja.calls(STATUS)) >= 2
    assert await transitions_to(gw, created["id"], "succeeded") == 1


@pytest.fixture
async def slow_gw(tmp_path: Path, daraja: FakeDaraja) -> AsyncIterator[Harness]:
    async with live_gateway(tmp_path, mpesa_env(daraja, timeout=0.5)) as harness:
        yield harness


async def test_slow_stk_answer_is_never_resent_and_expires(slow_gw: Harness,
                                                           daraja: FakeDaraja) -> None:
    daraja.stk.default = StkScenario(callback=False)
    daraja.slow(STK, 1.5)
    created = await start(slow_gw, BODY, "slow")
    assert created["status"] == "pending" and created["provider_reference"] is None
    await reconcile(slow_gw, created["id"])  # nothing to ask by; nothing is re-sent
    assert (await payment(slow_gw, created["id"]))["status"] == "pending"
    await reconcile(slow_gw, created["id"], expired_for=1)
    done = await payment(slow_gw, created["id"])
    assert done["status"] == "expired" and done["failure_reason"] == "no provider reference"
    assert statuses(done) == ["created", "pending", "expired"]
    assert len(daraja.calls(STK)) == 1 and daraja.calls(STK_QUERY) == []


async def test_slow_stk_answer_is_settled_by_its_late_callback(slow_gw: Harness,
                                                               daraja: FakeDaraja) -> None:
    daraja.slow(STK, 1.5)
    created = await start(slow_gw, BODY, "slow-cb")
    assert created["status"] == "pending" and created["provider_reference"] is None
    done = await wait_status(slow_gw, created["id"])
    [push] = daraja.pushes.values()
    assert done["status"] == "succeeded" and done["provider_reference"] == push.checkout
    assert len(daraja.calls(STK)) == 1 and len(daraja.calls(STK_QUERY)) == 1


async def test_b2c_payout_result_settles_the_payout(gw: Harness, daraja: FakeDaraja) -> None:
    daraja.b2c.default = B2CScenario(result_delay=0.2)
    created = await start(gw, PAYOUT, "b2c-ok", "/api/payments/payouts")
    assert created["status"] == "pending"
    done = await wait_status(gw, created["id"])
    assert done["status"] == "succeeded" and done["provider_transaction_id"].startswith("UB")
    assert statuses(done) == ["created", "pending", "succeeded"]
    assert len(daraja.calls(B2C)) == 1 and daraja.executed_payouts == 1
