"""REST /api/payments: create, idempotency, validation, roles, reads, listing, refunds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text, update

from adapters.db.payments import P
from resolvers.clock import SystemClock
from tests.payments.fake_provider import PAYMENT_BODY, FakeProvider, token_of
from tests.support import Harness


async def create(h: Harness, key: str = "key-1", roles: tuple[str, ...] = ("billing",),
                 path: str = "/api/payments", **changes: Any) -> Any:
    return await h.client.post(path, json={**PAYMENT_BODY, **changes},
                               headers={**h.auth(*roles), "Idempotency-Key": key})


async def test_create_sends_one_stk_push_and_answers_pending(pay: Harness,
                                                             fake_mpesa: FakeProvider) -> None:
    r = await create(pay)
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["status"] == "pending" and data["provider_reference"].startswith("ws_CO_")
    assert (data["amount"], data["currency"], data["phone"]) == (150000, "KES", "+254712345678")
    assert r.headers["location"] == f"/api/payments/{data['id']}"
    [sent] = fake_mpesa.collections
    assert sent.payment_id == data["id"] and sent.phone_e164 == "+254712345678"
    assert sent.callback_url.startswith("https://gw.example.org/api/payments/webhooks/mpesa?token=")
    # Only the token's hash is stored.
    token = token_of(sent.callback_url)
    async with pay.engine.connect() as conn:
        dump = str((await conn.execute(text("SELECT * FROM payments"))).mappings().all())
    assert token not in dump


async def test_idempotency_key_replays_and_conflicts(pay: Harness, fake_mpesa: FakeProvider) -> None:
    first = await create(pay)
    again = await create(pay)
    assert again.status_code == 200 and again.json()["data"]["id"] == first.json()["data"]["id"]
    assert len(fake_mpesa.collections) == 1
    other = await create(pay, amount=200000)
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
    missing = await pay.client.post("/api/payments", json=PAYMENT_BODY, headers=pay.auth("billing"))
    assert missing.status_code == 422
    assert missing.json()["error"]["details"][0]["field"] == "Idempotency-Key"
    # Keys are scoped to the caller: another caller's identical key is a new payment.
    mine = await pay.client.post("/api/payments", json=PAYMENT_BODY, headers={
        **pay.auth("billing", sub="someone-else"), "Idempotency-Key": "key-1"})
    assert mine.status_code == 201 and len(fake_mpesa.collections) == 2


async def test_concurrent_identical_creates_call_the_provider_once(
        pay: Harness, fake_mpesa: FakeProvider) -> None:
    import asyncio

    results = await asyncio.gather(*(create(pay, key="race") for _ in range(10)))
    assert sorted(r.status_code for r in results) == [200] * 9 + [201]
    assert len({r.json()["data"]["id"] for r in results}) == 1
    assert len(fake_mpesa.collections) == 1


async def test_validation_and_roles(pay: Harness) -> None:
    def problem(r: Any) -> str:
        assert r.status_code == 422, r.text
        return str(r.json()["error"]["details"])

    assert "currency" in problem(await create(pay, currency="UGX"))
    assert "phone" in problem(await create(pay, phone="12"))
    assert "amount" in problem(await create(pay, amount=150050))  # M-Pesa: whole shillings
    assert "amount" in problem(await create(pay, amount="1500"))
    assert "provider" in problem(await create(pay, key="k-momo", provider="mtn_momo",
                                              currency="UGX", phone="0772123456"))
    assert "patient_id" in problem(await create(pay, key="k-pat", patient_id="no-such"))
    assert (await pay.client.post("/api/payments", json=PAYMENT_BODY)).status_code == 401
    assert (await create(pay, roles=("clinician",))).status_code == 403
    assert (await create(pay, key="admin-key", roles=("admin",))).status_code == 201
    assert (await pay.client.get("/api/payments", headers=pay.auth("lab"))).status_code == 403


async def test_provider_refusal_fails_the_payment(pay: Harness, fake_mpesa: FakeProvider) -> None:
    fake_mpesa.next_outcome = "reject"
    data = (await create(pay)).json()["data"]
    assert data["status"] == "failed" and data["failure_reason"].startswith("400.002.02")


async def _make_due(h: Harness, payment_id: str, *, expire: bool = False) -> None:
    past = SystemClock().now() - timedelta(seconds=1)
    values = {"next_check_at": past, **({"expires_at": past} if expire else {})}
    async with h.engine.begin() as conn:  # through the table, so the UTC column type applies
        await conn.execute(update(P).where(P.c.id == payment_id).values(**values))


async def test_unreachable_provider_is_sent_again_by_the_reconciler(
        pay: Harness, fake_mpesa: FakeProvider) -> None:
    fake_mpesa.next_outcome = "down"
    data = (await create(pay)).json()["data"]
    assert data["status"] == "created"
    await _make_due(pay, data["id"])
    assert await pay.app.state.services.payments.reconciler.run_once() == 1
    got = (await pay.client.get(f"/api/payments/{data['id']}", headers=pay.auth("billing"))).json()
    assert got["data"]["status"] == "pending"
    first, second = fake_mpesa.collections
    assert first.attempt_key == second.attempt_key  # the same attempt, a new callback token
    assert token_of(first.callback_url) != token_of(second.callback_url)


async def test_lost_stk_push_is_never_resent_and_expires(pay: Harness,
                                                         fake_mpesa: FakeProvider) -> None:
    fake_mpesa.next_outcome = "lost"
    data = (await create(pay)).json()["data"]
    assert data["status"] == "pending" and data["provider_reference"] is None
    reconciler = pay.app.state.services.payments.reconciler
    await _make_due(pay, data["id"])
    await reconciler.run_once()  # not expired yet: nothing to ask, nothing resent
    await _make_due(pay, data["id"], expire=True)
    await reconciler.run_once()
    got = (await pay.client.get(f"/api/payments/{data['id']}", headers=pay.auth("billing"))).json()
    assert got["data"]["status"] == "expired"
    assert len(fake_mpesa.collections) == 1 and fake_mpesa.queries == []


async def test_read_with_history_list_and_refund(pay: Harness) -> None:
    patient = await pay.create_patient()
    a = (await create(pay, key="a", patient_id=patient["id"])).json()["data"]
    b = (await create(pay, key="b", reference="INV-2")).json()["data"]
    stripe = (await create(pay, key="c", provider="stripe", currency="USD", phone=None,
                           amount=4500)).json()["data"]
    assert stripe["status"] == "created"
    got = (await pay.client.get(f"/api/payments/{a['id']}", headers=pay.auth("billing"))).json()
    assert [(t["from_status"], t["to_status"], t["source"]) for t in got["data"]["history"]] == [
        (None, "created", "api"), ("created", "pending", "api")]
    assert (await pay.client.get("/api/payments/nope", headers=pay.auth("billing"))).status_code == 404

    async def listed(**params: str) -> list[str]:
        r = await pay.client.get("/api/payments", params=params, headers=pay.auth("billing"))
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()["data"]["items"]]

    assert await listed() == [stripe["id"], b["id"], a["id"]]
    assert await listed(patient_id=patient["id"]) == [a["id"]]
    assert await listed(reference="INV-2", provider="mpesa") == [b["id"]]
    assert await listed(status="created") == [stripe["id"]]
    page = (await pay.client.get("/api/payments", params={"limit": "2"},
                                 headers=pay.auth("billing"))).json()["data"]
    assert await listed(cursor=page["next_cursor"]) == [a["id"]]
    bad = await pay.client.get("/api/payments", params={"status": "paid"},
                               headers=pay.auth("billing"))
    assert bad.status_code == 422
    pending = await pay.client.post(f"/api/payments/{a['id']}/refund", headers=pay.auth("billing"))
    assert pending.status_code == 409  # pending -> refunded is not in the table
    # Reading a patient's payment is audited with that patient.
    audit = await pay.client.get("/api/admin/audit-events", params={
        "patient_id": patient["id"], "resource_type": "Payment"}, headers=pay.auth("admin"))
    assert {e["action"] for e in audit.json()["data"]["items"]} >= {"C", "R"}


async def test_international_phone_needs_no_country(pay: Harness,
                                                    fake_mpesa: FakeProvider) -> None:
    for key, phone in (("intl-plus", "+254 712 345 678"), ("intl-bare", "254712345678")):
        r = await create(pay, key=key, phone=phone)
        assert r.status_code == 201, r.text
        assert r.json()["data"]["phone"] == "+254712345678"
    assert [c.phone_e164 for c in fake_mpesa.collections] == ["+254712345678"] * 2
    # The number's own country decides the market: a Ugandan number cannot pay in KES.
    r = await create(pay, key="intl-ug", phone="+256772123456")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == "mpesa does not accept KES in UG"


async def test_national_phone_without_country_names_the_country_field(pay: Harness) -> None:
    momo = FakeProvider(name="mtn_momo", currencies=frozenset({"EUR"}))
    pay.app.state.services.payments.providers.use({"mtn_momo": momo})
    # The MoMo sandbox (EUR) has no country, so a national number cannot be read.
    r = await create(pay, key="nat", provider="mtn_momo", currency="EUR", amount=500,
                     phone="0772123456")
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["details"][0]["field"] == "country"
    assert "give country (ISO alpha-2" in error["message"] and "+254" in error["message"]
    assert "?" not in error["message"] and momo.collections == []
    # The same number with its country, or in international form, is accepted.
    r = await create(pay, key="nat-ug", provider="mtn_momo", currency="EUR", amount=500,
                     phone="0772123456", country="UG")
    assert r.status_code == 201, r.text
    r = await create(pay, key="intl", provider="mtn_momo", currency="EUR", amount=500,
                     phone="+256772123456")
    assert r.status_code == 201, r.text
    assert [c.phone_e164 for c in momo.collections] == ["+256772123456"] * 2
