"""Stripe events (signed with the official SDK) move payments registered with provider stripe."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from tests.payments.test_payments_callbacks import changes, status_of
from tests.support import Harness
from tests.webhooks.signing import stripe_headers


def event(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
    return json.dumps({"id": event_id or f"evt_{uuid.uuid4().hex[:16]}", "object": "event",
                       "type": event_type, "created": 1772360099, "livemode": False,
                       "data": {"object": obj}}).encode()


async def deliver(h: Harness, raw: bytes) -> None:
    r = await h.client.post("/api/webhooks/stripe", content=raw, headers=stripe_headers(raw))
    assert r.status_code == 200, r.text


async def register(h: Harness, key: str, amount: int = 4500) -> dict[str, Any]:
    r = await h.client.post("/api/payments", json={
        "provider": "stripe", "amount": amount, "currency": "USD", "reference": key},
        headers={**h.auth("billing"), "Idempotency-Key": key})
    assert r.status_code == 201 and r.json()["data"]["status"] == "created"
    data: dict[str, Any] = r.json()["data"]
    return data


def intent(payment_id: str, amount: int = 4500, **extra: Any) -> dict[str, Any]:
    return {"id": f"pi_{payment_id[-8:]}", "object": "payment_intent", "amount": amount,
            "amount_received": amount, "currency": "usd",
            "metadata": {"cari_payment_id": payment_id}, **extra}


async def test_payment_intent_succeeded_then_refunded(pay: Harness) -> None:
    p = await register(pay, "s1")
    await deliver(pay, event("payment_intent.succeeded", intent(p["id"])))
    done = await status_of(pay, p["id"], "succeeded")
    assert done["provider_reference"] == f"pi_{p['id'][-8:]}"
    assert [t["to_status"] for t in done["history"]] == ["created", "pending", "succeeded"]
    assert {t["source"] for t in done["history"][1:]} == {"stripe"}
    # charge.refunded correlates through the payment intent stored as the reference.
    await deliver(pay, event("charge.refunded", {
        "id": "ch_1", "object": "charge", "payment_intent": done["provider_reference"],
        "amount": 4500, "amount_refunded": 4500, "refunded": True, "currency": "usd"}))
    await status_of(pay, p["id"], "refunded")


async def test_amount_mismatch_failure_and_cancellation(pay: Harness) -> None:
    wrong = await register(pay, "s2")
    await deliver(pay, event("payment_intent.succeeded", intent(wrong["id"], amount=100)))
    assert (await status_of(pay, wrong["id"], "failed"))["failure_reason"] == "amount_mismatch"
    failed = await register(pay, "s3")
    await deliver(pay, event("payment_intent.payment_failed", intent(
        failed["id"], last_payment_error={"code": "card_declined"})))
    assert (await status_of(pay, failed["id"], "failed"))["failure_reason"] == \
        "stripe: card_declined"
    session = await register(pay, "s4")
    await deliver(pay, event("checkout.session.expired", {
        "id": "cs_1", "object": "checkout.session", "metadata": {"cari_payment_id": session["id"]}}))
    await status_of(pay, session["id"], "expired")
    invoice = await register(pay, "s5", amount=2000)
    await deliver(pay, event("invoice.paid", {
        "id": "in_1", "object": "invoice", "amount_paid": 2000, "currency": "usd",
        "metadata": {"cari_payment_id": invoice["id"]}}))
    await status_of(pay, invoice["id"], "succeeded")


async def test_twenty_distinct_success_events_change_the_payment_once(pay: Harness) -> None:
    """Stripe may send one change as several events: the compare-and-set applies it once."""
    p = await register(pay, "s6")
    raws = [event("payment_intent.succeeded", intent(p["id"])) for _ in range(20)]
    await asyncio.gather(*(deliver(pay, raw) for raw in raws))
    await status_of(pay, p["id"], "succeeded")
    await asyncio.sleep(0.5)
    assert await changes(pay, p["id"]) == 3


async def test_unrelated_stripe_objects_are_ignored(pay: Harness) -> None:
    raw = event("payment_intent.succeeded", {"id": "pi_elsewhere", "amount": 1, "currency": "usd"})
    await deliver(pay, raw)

    async def ignored() -> bool:
        r = await pay.client.get("/api/webhooks/events", params={"provider": "stripe"},
                                 headers=pay.auth("admin"))
        return bool(r.json()["data"]["items"]) and \
            r.json()["data"]["items"][0]["status"] == "ignored"

    for _ in range(200):
        if await ignored():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the event was not marked ignored")
