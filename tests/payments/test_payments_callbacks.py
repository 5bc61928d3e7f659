"""Mobile-money callbacks over HTTP: token check, inbox, status query, exactly-once changes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import func, select

from adapters.db.engine import session_factory
from adapters.db.payments import H
from adapters.db.uow import SqlUnitOfWork
from resolvers.clock import SystemClock
from resolvers.payments.providers import ProviderStatus
from tests.payments.fake_provider import PAYMENT_BODY, FakeProvider, succeeded, token_of
from tests.receiver import eventually
from tests.support import Harness

CALLBACK = "/api/payments/webhooks/mpesa"


async def start(h: Harness, fake: FakeProvider, key: str = "k", path: str = "/api/payments",
                **changes: Any) -> tuple[dict[str, Any], str]:
    r = await h.client.post(path, json={**PAYMENT_BODY, **changes},
                            headers={**h.auth("billing"), "Idempotency-Key": key})
    assert r.status_code == 201, r.text
    sent = (fake.payouts if "payouts" in path else fake.collections)[-1]
    url = sent.result_url if hasattr(sent, "result_url") else sent.callback_url
    return r.json()["data"], token_of(url)


def body(ref: str | None, state: str = "succeeded", event_id: str = "cb-1", **extra: Any) -> bytes:
    return json.dumps({"ref": ref, "state": state, "event_id": event_id, **extra}).encode()


async def status_of(h: Harness, payment_id: str, *wanted: str) -> dict[str, Any]:
    async def fetch() -> dict[str, Any]:
        r = await h.client.get(f"/api/payments/{payment_id}", headers=h.auth("billing"))
        data: dict[str, Any] = r.json()["data"]
        return data
    result: dict[str, Any] = await eventually(fetch, lambda p: p["status"] in wanted)
    return result


async def changes(h: Harness, payment_id: str) -> int:
    async with h.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(H).where(
            H.c.payment_id == payment_id))).scalar_one())


async def test_callback_is_confirmed_by_the_status_query(pay: Harness,
                                                         fake_mpesa: FakeProvider) -> None:
    payment, token = await start(pay, fake_mpesa)
    ref = payment["provider_reference"]
    fake_mpesa.statuses[ref] = succeeded(150000, "+254712345678", "TC13XYZ9QK")
    r = await pay.client.post(CALLBACK, params={"token": token},
                              content=body(ref, amount=150000, payer="254712345678"))
    assert r.status_code == 200 and r.json()["data"] == {"accepted": True, "duplicate": False}
    done = await status_of(pay, payment["id"], "succeeded")
    assert done["provider_transaction_id"] == "TC13XYZ9QK"
    assert fake_mpesa.queries == [ref]
    assert done["history"][-1]["source"] == "callback"


async def test_forged_or_broken_callbacks_are_refused_and_not_stored(
        pay: Harness, fake_mpesa: FakeProvider) -> None:
    payment, token = await start(pay, fake_mpesa)
    before = await changes(pay, payment["id"])
    for params in ({}, {"token": "guess"}, {"token": token + "x"}):
        r = await pay.client.post(CALLBACK, params=params, content=body(payment["provider_reference"]))
        assert r.status_code == 401, r.text
    wrong_provider = await pay.client.post("/api/payments/webhooks/mtn-momo",
                                           params={"token": token}, content=body(None))
    assert wrong_provider.status_code == 401
    other_ref = await pay.client.post(CALLBACK, params={"token": token}, content=body("ws_other"))
    assert other_ref.status_code == 401
    malformed = await pay.client.post(CALLBACK, params={"token": token}, content=b"{nope")
    assert malformed.status_code == 400
    events = await pay.client.get("/api/webhooks/events", params={"provider": "mpesa"},
                                  headers=pay.auth("admin"))
    assert events.json()["data"]["items"] == []
    assert await changes(pay, payment["id"]) == before
    metrics = (await pay.client.get("/metrics", headers=pay.auth("admin"))).text
    assert 'cari_payment_events_total{event="callback_rejected_bad_token",provider="mpesa"} 2.0' \
        in metrics


async def test_claimed_success_but_query_says_failed(pay: Harness, fake_mpesa: FakeProvider) -> None:
    payment, token = await start(pay, fake_mpesa)
    ref = payment["provider_reference"]
    fake_mpesa.statuses[ref] = ProviderStatus(state="failed", reason="1032: Request cancelled")
    await pay.client.post(CALLBACK, params={"token": token}, content=body(ref))
    done = await status_of(pay, payment["id"], "failed", "succeeded")
    assert done["status"] == "failed" and done["failure_reason"] == "1032: Request cancelled"


async def test_amount_or_payer_mismatch_fails_the_payment(pay: Harness,
                                                          fake_mpesa: FakeProvider) -> None:
    a, token_a = await start(pay, fake_mpesa, key="a")
    fake_mpesa.statuses[a["provider_reference"]] = succeeded(100)  # the query says 1 shilling
    await pay.client.post(CALLBACK, params={"token": token_a}, content=body(a["provider_reference"]))
    assert (await status_of(pay, a["id"], "failed"))["failure_reason"] == "amount_mismatch"
    # M-Pesa's STK query reports no amount: the callback's claimed figures are compared.
    b, token_b = await start(pay, fake_mpesa, key="b")
    fake_mpesa.statuses[b["provider_reference"]] = ProviderStatus(state="succeeded")
    await pay.client.post(CALLBACK, params={"token": token_b}, content=body(
        b["provider_reference"], event_id="cb-b", amount=150000, payer="254799999999"))
    assert (await status_of(pay, b["id"], "failed"))["failure_reason"] == "payer_mismatch"


async def test_twenty_identical_callbacks_at_once_change_the_payment_once(
        pay: Harness, fake_mpesa: FakeProvider) -> None:
    payment, token = await start(pay, fake_mpesa)
    ref = payment["provider_reference"]
    fake_mpesa.statuses[ref] = succeeded(150000)
    replies = await asyncio.gather(*(pay.client.post(CALLBACK, params={"token": token},
                                                     content=body(ref)) for _ in range(20)))
    assert [r.status_code for r in replies] == [200] * 20
    assert sum(not r.json()["data"]["duplicate"] for r in replies) == 1
    await status_of(pay, payment["id"], "succeeded")
    await asyncio.sleep(0.3)
    assert await changes(pay, payment["id"]) == 3  # created, pending, succeeded


async def test_twenty_distinct_callbacks_for_one_payment_apply_once(
        pay: Harness, fake_mpesa: FakeProvider) -> None:
    """Distinct event ids pass the inbox's dedupe: the compare-and-set keeps it to one change."""
    payment, token = await start(pay, fake_mpesa)
    ref = payment["provider_reference"]
    fake_mpesa.statuses[ref] = succeeded(150000)
    replies = await asyncio.gather(*(pay.client.post(
        CALLBACK, params={"token": token}, content=body(ref, event_id=f"cb-{i}"))
        for i in range(20)))
    assert all(not r.json()["data"]["duplicate"] for r in replies)
    # Also run the handler 20 times concurrently on the same stored event.
    handler = pay.app.state.services.payments.callback_handler
    events = await pay.client.get("/api/webhooks/events", params={"provider": "mpesa"},
                                  headers=pay.auth("admin"))
    stored = events.json()["data"]["items"][0]["id"]
    async with SqlUnitOfWork(session_factory(pay.engine), SystemClock().now) as uow:
        event = await uow.webhooks.get(stored)
    await asyncio.gather(*(handler(event) for _ in range(20)))
    await status_of(pay, payment["id"], "succeeded")
    await asyncio.sleep(0.5)
    assert await changes(pay, payment["id"]) == 3


async def test_late_callback_does_not_reopen_a_final_payment(pay: Harness,
                                                             fake_mpesa: FakeProvider) -> None:
    payment, token = await start(pay, fake_mpesa)
    ref = payment["provider_reference"]
    fake_mpesa.statuses[ref] = ProviderStatus(state="failed", reason="1037: timeout")
    await pay.client.post(CALLBACK, params={"token": token}, content=body(ref, state="failed"))
    await status_of(pay, payment["id"], "failed")
    fake_mpesa.statuses[ref] = succeeded(150000)
    await pay.client.post(CALLBACK, params={"token": token}, content=body(ref, event_id="cb-2"))
    await asyncio.sleep(0.4)
    assert (await status_of(pay, payment["id"], "failed", "succeeded"))["status"] == "failed"


async def test_payout_timeout_queries_and_never_resends(pay: Harness,
                                                        fake_mpesa: FakeProvider) -> None:
    payout, token = await start(pay, fake_mpesa, path="/api/payments/payouts")
    assert payout["direction"] == "payout" and payout["status"] == "pending"
    [sent] = fake_mpesa.payouts
    assert sent.timeout_url.endswith("&kind=timeout") and sent.result_url.endswith("&kind=result")
    ref = payout["provider_reference"]
    r = await pay.client.post(CALLBACK, params={"token": token, "kind": "timeout"},
                              content=body(ref, state="unknown", event_id="to-1"))
    assert r.status_code == 200
    await eventually(lambda: _queries(fake_mpesa), lambda q: q == [ref])
    assert (await status_of(pay, payout["id"], "pending"))["status"] == "pending"
    # M-Pesa answers the status query at the result URL it names, which carries a fresh token
    # (only token hashes are stored); the old URL is refused from then on.
    [query] = fake_mpesa.payout_queries
    assert query.result_url.endswith("&kind=result") and token_of(query.result_url) != token
    stale = await pay.client.post(CALLBACK, params={"token": token, "kind": "result"},
                                  content=body(ref, event_id="res-0", attempt_key=sent.attempt_key))
    assert stale.status_code == 401
    # B2C has no synchronous status: the result with our OriginatorConversationID settles it.
    await pay.client.post(CALLBACK, params={"token": token_of(query.result_url), "kind": "result"},
                          content=body(ref, event_id="res-1", attempt_key=sent.attempt_key))
    await status_of(pay, payout["id"], "succeeded")
    assert fake_mpesa.queries == [ref], "the result itself is the answer: no second query"
    assert len(fake_mpesa.payouts) == 1


async def _queries(fake: FakeProvider) -> list[str]:
    return list(fake.queries)


async def test_orange_notif_token_must_match(pay: Harness) -> None:
    orange = FakeProvider(name="orange_money", currencies=frozenset({"XOF"}), notif_token="n-42")
    pay.app.state.services.payments.providers.use({"orange_money": orange})
    payment, token = await start(pay, orange, provider="orange_money", currency="XOF",
                                 amount=2500, phone="0700000000", country="CI")
    assert payment["redirect_url"] == "https://pay.example/x"
    url = "/api/payments/webhooks/orange-money"
    ref = payment["provider_reference"]
    bad = await pay.client.post(url, params={"token": token}, content=body(ref, notif_token="n-0"))
    assert bad.status_code == 401
    orange.statuses[ref] = succeeded(2500)
    ok = await pay.client.post(url, params={"token": token}, content=body(ref, notif_token="n-42"))
    assert ok.status_code == 200
    await status_of(pay, payment["id"], "succeeded")


async def test_identical_callbacks_of_two_payments_are_two_deliveries(
        pay: Harness, fake_mpesa: FakeProvider) -> None:
    """A callback id unique only within its payment (MoMo failures carry no transaction
    id) must not make the second payment's callback look like a repeat of the first's."""
    first, first_token = await start(pay, fake_mpesa, key="k-one")
    second, second_token = await start(pay, fake_mpesa, key="k-two")
    for payment, token in ((first, first_token), (second, second_token)):
        ref = payment["provider_reference"]
        fake_mpesa.statuses[ref] = succeeded(150000, "+254712345678", f"TX{ref[-6:]}")
        r = await pay.client.post(CALLBACK, params={"token": token},
                                  content=body(ref, event_id="same-id", amount=150000,
                                               payer="254712345678"))
        assert r.status_code == 200 and r.json()["data"]["duplicate"] is False
    for payment in (first, second):
        assert (await status_of(pay, payment["id"], "succeeded"))["status"] == "succeeded"
