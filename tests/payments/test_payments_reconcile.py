"""The reconciler: MoMo poller, settling by attempt key, and its claim across passes."""

from __future__ import annotations

import asyncio

from tests.payments.fake_provider import FakeProvider, succeeded
from tests.payments.test_payments_api import _make_due
from tests.support import Harness

MOMO = {"provider": "mtn_momo", "amount": 1500, "currency": "UGX", "phone": "0772123456",
        "reference": "INV-7781"}


async def _momo(h: Harness) -> FakeProvider:
    momo = FakeProvider(name="mtn_momo", currencies=frozenset({"UGX"}))
    h.app.state.services.payments.providers.use({"mtn_momo": momo})
    return momo


async def _create(h: Harness, key: str) -> dict[str, object]:
    r = await h.client.post("/api/payments", json=MOMO,
                            headers={**h.auth("billing"), "Idempotency-Key": key})
    assert r.status_code == 201, r.text
    data: dict[str, object] = r.json()["data"]
    return data


async def _status(h: Harness, payment_id: object) -> str:
    r = await h.client.get(f"/api/payments/{payment_id}", headers=h.auth("billing"))
    return str(r.json()["data"]["status"])


async def test_momo_payment_without_callback_is_settled_by_polling(pay: Harness) -> None:
    momo = await _momo(pay)
    p = await _create(pay, "m1")
    reconciler = pay.app.state.services.payments.reconciler
    await _make_due(pay, str(p["id"]))
    await reconciler.run_once()
    assert await _status(pay, p["id"]) == "pending"  # MoMo still says PENDING
    momo.statuses[str(p["provider_reference"])] = succeeded(1500, "+256772123456")
    await _make_due(pay, str(p["id"]))
    await reconciler.run_once()
    assert await _status(pay, p["id"]) == "succeeded"
    assert len(momo.collections) == 1


async def test_lost_momo_acknowledgement_is_queried_by_attempt_key(pay: Harness) -> None:
    momo = await _momo(pay)
    momo.next_outcome = "lost"
    p = await _create(pay, "m2")
    assert p["status"] == "pending" and p["provider_reference"] is None
    attempt = momo.collections[0].attempt_key
    momo.statuses[attempt] = succeeded(1500)
    await _make_due(pay, str(p["id"]))
    await pay.app.state.services.payments.reconciler.run_once()
    assert await _status(pay, p["id"]) == "succeeded"
    assert momo.queries == [attempt] and len(momo.collections) == 1


async def test_concurrent_reconciler_passes_claim_each_payment_once(pay: Harness) -> None:
    momo = await _momo(pay)
    ids = [str((await _create(pay, f"c{i}"))["id"]) for i in range(5)]
    for i in ids:
        await _make_due(pay, i)
    reconciler = pay.app.state.services.payments.reconciler
    handled = await asyncio.gather(*(reconciler.run_once() for _ in range(4)))
    assert sum(handled) == 5 and len(momo.queries) == 5
