"""Stripe deliveries at the HTTP surface: signed with the stripe SDK's own helper."""

from __future__ import annotations

import time
from pathlib import Path

from resolvers.webhooks.handlers import stripe_events
from tests.support import Harness, running_app
from tests.webhooks.conftest import webhook_settings
from tests.webhooks.helpers import Recorder, inbox, rows, settled
from tests.webhooks.signing import STRIPE_OLD_SECRET, stripe_event, stripe_headers


async def _metric(h: Harness, provider: str, reason: str) -> float:
    r = await h.client.get("/metrics", headers=h.auth("admin"))
    needle = f'cari_webhook_rejections_total{{provider="{provider}",reason="{reason}"}} '
    line = next((x for x in r.text.splitlines() if x.startswith(needle)), None)
    return float(line.split()[-1]) if line else 0.0


async def test_signed_event_is_stored_acknowledged_and_processed_once(
        tmp_path: Path, sqlite_url: str) -> None:
    recorder = Recorder()
    handlers = {"stripe": stripe_events({"payment_intent.*": recorder})}
    async with running_app(webhook_settings(tmp_path, sqlite_url),
                           extra_event_handlers=handlers) as h:
        raw = stripe_event(event_id="evt_1QxA", metadata={"payment_id": "pay_881"})
        r = await h.client.post("/api/webhooks/stripe", content=raw, headers=stripe_headers(raw))
        assert r.status_code == 200, r.text
        ack = r.json()
        assert ack["success"] is True and ack["data"]["duplicate"] is False
        event = await settled(h, ack["data"]["id"], "processed")
        assert event["event_id"] == "evt_1QxA" and event["subject_id"] == "pay_881"
        assert event["event_type"] == "payment_intent.succeeded" and event["attempts"] == 1
        assert event["payload"]["data"]["object"]["amount"] == 4500
        assert [c.event_id for c in recorder.calls] == ["evt_1QxA"]

        again = await h.client.post("/api/webhooks/stripe", content=raw,
                                    headers=stripe_headers(raw))
        assert again.status_code == 200
        assert again.json()["data"] == {"id": ack["data"]["id"], "duplicate": True}
        assert len(await rows(h, "webhook_events")) == 1
        jobs = [m for m in await rows(h, "outbox_messages") if m["destination"] == "inbox"]
        assert [m["idempotency_key"] for m in jobs] == [f"webhook-event:{ack['data']['id']}"]
        assert len(recorder.calls) == 1


async def test_unrouted_event_type_is_ignored_not_failed(hooks: Harness) -> None:
    raw = stripe_event("customer.created")
    r = await hooks.client.post("/api/webhooks/stripe", content=raw, headers=stripe_headers(raw))
    event = await settled(hooks, r.json()["data"]["id"], "ignored")
    assert "customer.created" in event["last_error"] and event["processed_at"]


async def test_tampered_body_is_refused_counted_and_not_stored(hooks: Harness) -> None:
    raw = stripe_event(amount=4500)
    headers = stripe_headers(raw)
    forged = raw.replace(b"4500", b"1")
    assert forged != raw
    before = await _metric(hooks, "stripe", "bad_signature")
    r = await hooks.client.post("/api/webhooks/stripe", content=forged, headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    assert await rows(hooks, "webhook_events") == []
    assert await _metric(hooks, "stripe", "bad_signature") == before + 1


async def test_stale_missing_and_malformed_signatures(hooks: Harness) -> None:
    raw = stripe_event()
    stale = stripe_headers(raw, timestamp=int(time.time()) - 301)
    r = await hooks.client.post("/api/webhooks/stripe", content=raw, headers=stale)
    assert r.status_code == 401 and "older" in r.json()["error"]["message"]
    assert await _metric(hooks, "stripe", "stale") == 1

    r = await hooks.client.post("/api/webhooks/stripe", content=raw,
                                headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and await _metric(hooks, "stripe", "missing") == 1

    r = await hooks.client.post("/api/webhooks/stripe", content=raw,
                                headers={"Stripe-Signature": "garbage"})
    assert r.status_code == 400 and await _metric(hooks, "stripe", "malformed_header") == 1

    wrong = stripe_headers(raw, secret="whsec_someone_else_entirely")
    r = await hooks.client.post("/api/webhooks/stripe", content=raw, headers=wrong)
    assert r.status_code == 401
    assert await rows(hooks, "webhook_events") == []


async def test_secret_rotation_accepts_either_secret(hooks: Harness) -> None:
    new, old = stripe_event(), stripe_event()
    r1 = await hooks.client.post("/api/webhooks/stripe", content=new, headers=stripe_headers(new))
    r2 = await hooks.client.post("/api/webhooks/stripe", content=old,
                                 headers=stripe_headers(old, STRIPE_OLD_SECRET))
    assert (r1.status_code, r2.status_code) == (200, 200)
    # During a roll Stripe sends one v1 per secret in a single header.
    both = stripe_event()
    header = (stripe_headers(both, "whsec_retired_secret_000")["Stripe-Signature"] + ",v1="
              + stripe_headers(both, STRIPE_OLD_SECRET)["Stripe-Signature"].split("v1=")[1])
    r3 = await hooks.client.post("/api/webhooks/stripe", content=both,
                                 headers={"Stripe-Signature": header})
    assert r3.status_code == 200, r3.text
    assert len(await inbox(hooks, provider="stripe")) == 3


async def test_oversized_body_is_refused(hooks: Harness) -> None:
    raw = stripe_event(description="x" * 1_100_000)
    r = await hooks.client.post("/api/webhooks/stripe", content=raw, headers=stripe_headers(raw))
    assert r.status_code == 413
    assert await rows(hooks, "webhook_events") == []


async def test_unconfigured_provider_refuses_everything(gateway: Harness) -> None:
    raw = stripe_event()
    r = await gateway.client.post("/api/webhooks/stripe", content=raw,
                                  headers=stripe_headers(raw))
    assert r.status_code == 404 and "not configured" in r.json()["error"]["message"]
    for path in ("/api/webhooks/livekit", "/api/gtm/webhooks/resend", "/api/gtm/webhooks/inbound"):
        assert (await gateway.client.post(path, content=b"{}")).status_code == 404
    assert await rows(gateway, "webhook_events") == []
