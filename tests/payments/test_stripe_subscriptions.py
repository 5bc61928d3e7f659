"""Stripe subscriptions (newest event wins) and one payment per subscription invoice; storage
of subscriptions and refunds on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.db.engine import create_engine, session_factory
from adapters.db.stripe_store import SqlStripeStore
from composition import migrate_engine
from resolvers.ids import new_id
from resolvers.payments.stripe_model import (
    DuplicateRefund,
    Refund,
    RefundStatus,
    StripeSubscription,
    SubscriptionQuery,
)
from tests.payments.stripe_support import deliver
from tests.receiver import eventually
from tests.support import Harness, fresh_postgres_database

T0 = 1772360000
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def sub(status: str, patient: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status,
            "cancel_at_period_end": False, "current_period_end": T0 + 30 * 86400,
            "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": "price_basic"}}]},
            "metadata": {"cari_patient_id": patient} if patient else {}, **extra}


async def subscriptions(h: Harness, role: str = "billing", **params: str) -> Any:
    return await h.client.get("/api/payments/subscriptions", params=params, headers=h.auth(role))


async def settled(h: Harness, count: int) -> None:
    """Wait until ``count`` Stripe events are no longer waiting to be processed."""
    async def fetch() -> list[dict[str, Any]]:
        r = await h.client.get("/api/webhooks/events", params={"provider": "stripe",
                                                               "limit": "100"},
                               headers=h.auth("admin"))
        items: list[dict[str, Any]] = r.json()["data"]["items"]
        return items
    await eventually(fetch, lambda items: len(items) == count and all(
        e["status"] in ("processed", "ignored") for e in items))


async def test_out_of_order_events_end_at_the_newest(stripe_app: Harness) -> None:
    h = stripe_app
    patient = await h.create_patient()
    # updated (newer) arrives before created; then an older updated arrives late.
    await deliver(h, "customer.subscription.updated",
                  sub("active", patient["id"], cancel_at_period_end=True), created=T0 + 10)
    await deliver(h, "customer.subscription.created", sub("incomplete", patient["id"]),
                  created=T0)
    await deliver(h, "customer.subscription.updated", sub("past_due"), created=T0 + 5)
    await settled(h, 3)
    [item] = (await subscriptions(h)).json()["data"]["items"]
    assert (item["status"], item["cancel_at_period_end"], item["patient_id"], item["price_id"],
            item["last_event_created"]) == ("active", True, patient["id"], "price_basic", T0 + 10)
    assert item["current_period_end"].startswith("2026-03-31")
    # Same second: the later lifecycle stage (deleted) wins; a canceled one never comes back.
    await deliver(h, "customer.subscription.deleted", sub("canceled"), created=T0 + 10)
    await deliver(h, "customer.subscription.updated", sub("active"), created=T0 + 20)
    await settled(h, 5)
    [item] = (await subscriptions(h)).json()["data"]["items"]
    assert item["status"] == "canceled" and item["patient_id"] == patient["id"]
    assert (await subscriptions(h, status="active")).json()["data"]["items"] == []
    assert len((await subscriptions(h, patient_id=patient["id"])).json()["data"]["items"]) == 1
    assert (await subscriptions(h, "clinician")).status_code == 403
    gql = await h.gql("{ stripeSubscriptions(status: \"canceled\") { nodes { id status "
                      "patientId priceId cancelAtPeriodEnd } pageInfo { hasNextPage } } }",
                      roles=("billing",))
    assert gql["data"]["stripeSubscriptions"]["nodes"] == [{
        "id": "sub_1", "status": "canceled", "patientId": patient["id"],
        "priceId": "price_basic", "cancelAtPeriodEnd": False}]
    denied = await h.gql("{ stripeSubscriptions { nodes { id } } }", roles=("clinician",))
    assert denied.get("errors")


def invoice(invoice_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": invoice_id, "object": "invoice", "subscription": "sub_1", "currency": "usd",
            "amount_due": 2500, "amount_paid": 2500, "status": "paid",
            "payment_intent": f"pi_{invoice_id}", **extra}


async def payments_for(h: Harness, reference: str) -> list[dict[str, Any]]:
    r = await h.client.get("/api/payments", params={"reference": reference},
                           headers=h.auth("billing"))
    items: list[dict[str, Any]] = r.json()["data"]["items"]
    return items


async def test_invoice_events_make_one_payment_per_invoice(stripe_app: Harness) -> None:
    h = stripe_app
    patient = await h.create_patient()
    await deliver(h, "customer.subscription.created", sub("active", patient["id"]), created=T0)
    await asyncio.gather(*(deliver(h, "invoice.paid", invoice("in_1")) for _ in range(2)))
    await settled(h, 3)
    [payment] = await payments_for(h, "in_1")
    assert (payment["status"], payment["amount"], payment["currency"], payment["provider"],
            payment["direction"], payment["patient_id"], payment["provider_reference"]) == (
        "succeeded", 2500, "USD", "stripe", "collection", patient["id"], "in_1")
    # A failed attempt Stripe will retry: pending; when Stripe gives up: failed.
    await deliver(h, "invoice.payment_failed", invoice(
        "in_2", status="open", amount_paid=0, next_payment_attempt=T0 + 86400))
    await settled(h, 4)
    assert [p["status"] for p in await payments_for(h, "in_2")] == ["pending"]
    await deliver(h, "invoice.payment_failed", invoice(
        "in_2", status="open", amount_paid=0, next_payment_attempt=None))
    await settled(h, 5)
    [failed] = await payments_for(h, "in_2")
    assert failed["status"] == "failed" and failed["amount"] == 2500


# ---------------------------------------------------------------- storage (SQLite, PostgreSQL)


@contextlib.asynccontextmanager
async def _stores(url: str) -> AsyncIterator[list[SqlStripeStore]]:
    engines = [create_engine(url) for _ in range(2)]  # two engines: like two processes
    await migrate_engine(engines[0])
    try:
        yield [SqlStripeStore(session_factory(e)) for e in engines]
    finally:
        for e in engines:
            await e.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        async with _stores(f"sqlite+aiosqlite:///{tmp_path / 's.sqlite3'}") as made:
            yield made
    else:
        async with fresh_postgres_database() as url, _stores(url) as made:
            yield made


def subscription(created: int, status: str = "active", rank: int = 1,
                 patient: str | None = None) -> StripeSubscription:
    return StripeSubscription(
        id="sub_s", customer_id="cus_s", status=status, price_id="price_x",
        current_period_end=NOW, cancel_at_period_end=False, patient_id=patient,
        last_event_id=f"evt_{created}_{rank}", last_event_type="customer.subscription.updated",
        last_event_created=created, last_event_rank=rank, created_at=NOW, updated_at=NOW)


@pytest.mark.db
async def test_concurrent_subscription_events_end_at_the_newest(stores) -> None:
    events = [subscription(T0 + i, status=f"s{i}", patient="pat-1" if i == 0 else None)
              for i in range(20)]
    random.Random(7).shuffle(events)
    await asyncio.gather(*(stores[i % 2].apply_subscription(e) for i, e in enumerate(events)))
    stored = await stores[0].get_subscription("sub_s")
    assert stored is not None
    assert (stored.status, stored.last_event_created, stored.patient_id) == ("s19", T0 + 19,
                                                                             "pat-1")
    assert not await stores[1].apply_subscription(subscription(T0 + 19, "again"))  # a tie
    assert await stores[1].apply_subscription(subscription(T0 + 19, "canceled", rank=2))
    assert not await stores[0].apply_subscription(subscription(T0 + 50, "active"))
    assert [s.id for s in await stores[0].search_subscriptions(
        SubscriptionQuery(status="canceled", patient_id="pat-1"))] == ["sub_s"]


def a_refund(key: str = "k", payment: str = "pay-1", by: str = "billing-1") -> Refund:
    return Refund(id=new_id(), payment_id=payment, amount_minor=1000, currency="USD",
                  reason=None, status=RefundStatus.REQUESTED, created_by=by,
                  idempotency_key=key, request_hash="h" * 64,
                  stripe_idempotency_key=f"cari-refund-{key}", stripe_refund_id=None,
                  failure_reason=None, created_at=NOW, updated_at=NOW)


@pytest.mark.db
async def test_refund_storage(stores) -> None:
    store = stores[0]
    first = a_refund()
    await store.add_refund(first)
    with pytest.raises(DuplicateRefund):
        await stores[1].add_refund(a_refund())
    second = a_refund(by="billing-2")
    await store.add_refund(second)
    assert await store.refund_by_key("billing-1", "k") == first
    # Compare-and-set on the status: of concurrent updates from requested, one wins.
    results = await asyncio.gather(*(stores[i % 2].update_refund(
        first.id, {"status": RefundStatus.PENDING, "stripe_refund_id": "re_1"},
        expected=[RefundStatus.REQUESTED]) for i in range(10)))
    assert sum(results) == 1
    assert (await store.refund_by_stripe_id("re_1")) == replace(
        first, status=RefundStatus.PENDING, stripe_refund_id="re_1")
    other = a_refund(key="k2")
    await store.add_refund(other)
    with pytest.raises(DuplicateRefund):
        await store.update_refund(other.id, {"stripe_refund_id": "re_1"})
    assert [r.id for r in (await store.refunds_of(["pay-1"]))["pay-1"]] == sorted(
        [first.id, second.id, other.id])
