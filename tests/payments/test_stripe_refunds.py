"""Stripe refunds: REST -> official SDK -> fake Stripe API; signed events complete them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from resolvers.payments.model import PaymentStatus, TransitionSource
from tests.payments.fake_provider import FakeProvider
from tests.payments.fakes.base import serving
from tests.payments.fakes.stripe_api import API_KEY, REFUNDS, FakeStripe
from tests.payments.stripe_support import deliver
from tests.payments.test_payments_callbacks import status_of
from tests.support import Harness, free_port, make_settings, running_app
from tests.webhooks.signing import STRIPE_SECRET


async def paid(h: Harness, fake: FakeStripe, key: str, amount: int = 4500) -> dict[str, Any]:
    """A Stripe payment registered, charged at the fake, and succeeded by a signed event."""
    r = await h.client.post("/api/payments", json={
        "provider": "stripe", "amount": amount, "currency": "USD", "reference": key},
        headers={**h.auth("billing"), "Idempotency-Key": key})
    assert r.status_code == 201, r.text
    payment: dict[str, Any] = r.json()["data"]
    intent = f"pi_{key}_{payment['id'][-6:]}"
    charge = fake.add_charge(intent, amount)
    await deliver(h, "payment_intent.succeeded", {
        "id": intent, "object": "payment_intent", "amount": amount, "amount_received": amount,
        "currency": "usd", "latest_charge": charge.id,
        "metadata": {"cari_payment_id": payment["id"]}})
    return await status_of(h, payment["id"], "succeeded")


async def refund(h: Harness, payment_id: str, key: str | None, role: str = "billing",
                 **body: Any) -> Any:
    headers = h.auth(role)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await h.client.post(f"/api/payments/{payment_id}/refund", json=body, headers=headers)


async def test_refund_end_to_end(stripe_app: Harness, fake_stripe: FakeStripe) -> None:
    h, fake = stripe_app, fake_stripe
    p = await paid(h, fake, "e2e")
    r = await refund(h, p["id"], "refund-1", reason="requested_by_customer")
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["status"] == "pending" and data["amount"] == 4500
    assert data["stripe_refund_id"] in fake.refunds
    # One refund at Stripe, sent with our idempotency key, form-encoded, with our ids.
    [call] = fake.calls(REFUNDS)
    assert call.headers["idempotency-key"] == f"cari-refund-{data['id']}"
    assert call.headers["authorization"] == f"Bearer {API_KEY}"
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    stripe_refund = fake.refunds[data["stripe_refund_id"]]
    assert stripe_refund["metadata"] == {"cari_refund_id": data["id"], "cari_payment_id": p["id"]}
    assert stripe_refund["reason"] == "requested_by_customer"
    # The request moved nothing: the payment is still succeeded until Stripe's signed event.
    got = (await h.client.get(f"/api/payments/{p['id']}", headers=h.auth("billing"))).json()
    assert got["data"]["status"] == "succeeded" and got["data"]["refunded_amount"] == 0
    # The same key again: the recorded refund, no second call.
    again = await refund(h, p["id"], "refund-1", reason="requested_by_customer")
    assert again.status_code == 200 and again.json()["data"]["id"] == data["id"]
    assert len(fake.calls(REFUNDS)) == 1
    charge = fake.charge_of(stripe_refund["payment_intent"])
    assert charge is not None
    await deliver(h, "charge.refunded", fake.charge_refunded_event(charge))
    done = await status_of(h, p["id"], "refunded")
    assert done["refunded_amount"] == 4500
    assert [t["to_status"] for t in done["history"]][-2:] == ["succeeded", "refunded"]
    assert done["history"][-1]["source"] == TransitionSource.STRIPE.value
    assert [x["status"] for x in done["refunds"]] == ["succeeded"]
    # Fully refunded: another refund is refused before Stripe is asked.
    more = await refund(h, p["id"], "refund-2")
    assert more.status_code == 409 and "already refunded" in more.json()["error"]["message"]
    assert len(fake.refunds) == 1


async def test_lost_answers_and_outage_then_retry(stripe_app: Harness,
                                                  fake_stripe: FakeStripe) -> None:
    h, fake = stripe_app, fake_stripe
    p = await paid(h, fake, "lost")
    # The refund is made but both answers (the SDK retries once, same key) are lost: 502.
    fake.fail_after(REFUNDS, 500, times=2)
    lost = await refund(h, p["id"], "k-lost")
    assert lost.status_code == 502, lost.text
    assert "same Idempotency-Key" in lost.json()["error"]["message"]
    assert len(fake.refunds) == 1
    retried = await refund(h, p["id"], "k-lost")
    assert retried.status_code == 201 and retried.json()["data"]["status"] == "pending"
    assert len(fake.refunds) == 1  # Stripe replayed the refund for our idempotency key
    keys = {c.headers["idempotency-key"] for c in fake.calls(REFUNDS)}
    assert keys == {f"cari-refund-{retried.json()['data']['id']}"}
    # An outage before anything is processed: 502 (Stripe answered 503), then the retry works.
    q = await paid(h, fake, "down")
    fake.fail(REFUNDS, 503, times=2)
    down = await refund(h, q["id"], "k-down", amount=1000)
    assert down.status_code == 502
    listed = (await h.client.get(f"/api/payments/{q['id']}", headers=h.auth("billing"))).json()
    assert [x["status"] for x in listed["data"]["refunds"]] == ["requested"]
    ok = await refund(h, q["id"], "k-down", amount=1000)
    assert ok.status_code == 201 and len(fake.charge_of(f"pi_down_{q['id'][-6:]}").refunds) == 1


async def test_partial_refunds(stripe_app: Harness, fake_stripe: FakeStripe) -> None:
    h, fake = stripe_app, fake_stripe
    p = await paid(h, fake, "part", amount=5000)
    first = await refund(h, p["id"], "p1", amount=1000)
    assert first.status_code == 201
    charge = fake.charge_of(fake.refunds[first.json()["data"]["stripe_refund_id"]]["payment_intent"])
    assert charge is not None
    # A charge.refunded without the refunds list (newer API versions): the total is enough.
    await deliver(h, "charge.refunded", fake.charge_refunded_event(charge, with_refunds=False))

    async def partially() -> dict[str, Any]:
        got = await h.client.get(f"/api/payments/{p['id']}", headers=h.auth("billing"))
        data: dict[str, Any] = got.json()["data"]
        return data

    from tests.receiver import eventually
    data = await eventually(partially, lambda d: d["refunded_amount"] == 1000)
    assert data["status"] == "succeeded" and data["refunds"][0]["status"] == "succeeded"
    too_much = await refund(h, p["id"], "p2", amount=4001)
    assert too_much.status_code == 422 and too_much.json()["error"]["details"][0]["field"] == \
        "amount"
    rest = await refund(h, p["id"], "p3")  # no amount: all that is left
    assert rest.status_code == 201 and rest.json()["data"]["amount"] == 4000
    refund_obj = fake.refunds[rest.json()["data"]["stripe_refund_id"]]
    await deliver(h, "refund.updated", refund_obj)  # a refund event alone completes it
    done = await status_of(h, p["id"], "refunded")
    assert done["refunded_amount"] == 5000


async def test_refusals(stripe_app: Harness, fake_stripe: FakeStripe) -> None:
    h, fake = stripe_app, fake_stripe
    created = (await h.client.post("/api/payments", json={
        "provider": "stripe", "amount": 100, "currency": "USD", "reference": "x"},
        headers={**h.auth("billing"), "Idempotency-Key": "reg"})).json()["data"]
    assert (await refund(h, created["id"], "a")).status_code == 409  # not succeeded
    p = await paid(h, fake, "refuse")
    missing = await refund(h, p["id"], None)
    assert missing.status_code == 422 and "Idempotency-Key" in missing.text
    assert (await refund(h, p["id"], "big", amount=4501)).status_code == 422
    assert (await refund(h, p["id"], "bad-reason", reason="because")).status_code == 422
    assert (await refund(h, p["id"], "nurse", role="clinician")).status_code == 403
    assert fake.calls(REFUNDS) == []
    # Refunded meanwhile in the Stripe Dashboard: Stripe refuses, 409, recorded as failed.
    charge = fake.charge_of(f"pi_refuse_{p['id'][-6:]}")
    assert charge is not None
    charge.refunds.append({"id": "re_dash", "amount": 4500, "status": "succeeded"})
    refused = await refund(h, p["id"], "k", role="admin")
    assert refused.status_code == 409 and "already been refunded" in refused.text
    assert (await refund(h, p["id"], "k", role="admin")).status_code == 409
    assert len(fake.calls(REFUNDS)) == 1  # the refusal is replayed for the key, not re-sent
    other_body = await refund(h, p["id"], "k", role="admin", amount=10)
    assert other_body.status_code == 409 and "different refund" in other_body.text
    # Mobile money: refused with a clear message.
    h.app.state.services.payments.providers.use({"mpesa": FakeProvider()})
    mm = (await h.client.post("/api/payments", json={
        "provider": "mpesa", "amount": 150000, "currency": "KES", "phone": "0712345678",
        "reference": "INV-9"}, headers={**h.auth("billing"), "Idempotency-Key": "mm"})).json()
    settler = h.app.state.services.payments.use_cases.settler
    stored = await settler.load(mm["data"]["id"])
    await settler.move(stored, PaymentStatus.SUCCEEDED, "test", TransitionSource.QUERY)
    mobile = await refund(h, mm["data"]["id"], "mm-r")
    assert mobile.status_code == 422 and "does not support refunds" in mobile.text


async def test_stripe_unreachable_or_not_allowed_is_503(tmp_path: Path, sqlite_url: str) -> None:
    async with serving(FakeStripe()) as fake:
        assert isinstance(fake, FakeStripe)
        for name, base, allow, key in (
                ("closed", f"http://127.0.0.1:{free_port()}", ("127.0.0.1",), API_KEY),
                ("policy", fake.base_url, (), API_KEY),
                ("badkey", fake.base_url, ("127.0.0.1",), "sk_test_wrong")):
            settings = make_settings(tmp_path / name, sqlite_url.replace(".sqlite3", f"{name}.db"),
                                     payments_reconcile_seconds=0.0,
                                     stripe_webhook_secrets=(STRIPE_SECRET,), stripe_api_key=key,
                                     stripe_api_base=base, outbound_allowlist=allow)
            async with running_app(settings) as h:
                p = await paid(h, fake, name)
                r = await refund(h, p["id"], "k")
                assert r.status_code == 503, (name, r.text)
                assert "retry with the same Idempotency-Key" in r.json()["error"]["message"]
        assert len(fake.calls(REFUNDS)) == 1  # only the bad key reached the fake (401)
