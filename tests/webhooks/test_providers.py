"""LiveKit (livekit-api AccessToken), Resend (svix signing) and signed lead capture."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import Harness
from tests.webhooks.helpers import rows, settled
from tests.webhooks.signing import (
    lead_body,
    lead_headers,
    livekit_event,
    livekit_headers,
    resend_event,
    resend_headers,
)

# ---------------------------------------------------------------- LiveKit


@pytest.mark.parametrize("bearer", [False, True])
async def test_livekit_event_is_verified_and_processed(hooks: Harness, bearer: bool) -> None:
    raw = livekit_event(event_id="EV_8sQm2Lk")
    r = await hooks.client.post("/api/webhooks/livekit", content=raw,
                                headers=livekit_headers(raw, bearer=bearer))
    assert r.status_code == 200, r.text
    event = await settled(hooks, r.json()["data"]["id"], "processed")
    assert (event["event_id"], event["event_type"], event["subject_id"]) == (
        "EV_8sQm2Lk", "participant_left", "RM_t4Xb")


async def test_livekit_forgeries_are_refused(hooks: Harness) -> None:
    raw = livekit_event()
    other = livekit_event()
    cases = [
        (other, livekit_headers(raw)),  # token made for another body: hash mismatch
        (raw, livekit_headers(raw, secret="not-the-livekit-secret-000000000000")),
        (raw, {"Content-Type": "application/webhook+json"}),  # no token at all
    ]
    for body, headers in cases:
        r = await hooks.client.post("/api/webhooks/livekit", content=body, headers=headers)
        assert r.status_code == 401, r.text
    r = await hooks.client.post("/api/webhooks/livekit", content=raw,
                                headers={"Authorization": "not-a-jwt"})
    assert r.status_code == 400
    assert await rows(hooks, "webhook_events") == []


# ---------------------------------------------------------------- Resend


async def test_permanent_bounce_suppresses_the_address_without_logging_it(
        hooks: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    raw = resend_event("email.bounced", "Permanent", to="Patient@Example.com")
    r = await hooks.client.post("/api/gtm/webhooks/resend", content=raw,
                                headers=resend_headers(raw, "msg_2nQ8pXw"))
    assert r.status_code == 200, r.text
    event = await settled(hooks, r.json()["data"]["id"], "processed")
    assert event["event_id"] == "msg_2nQ8pXw"
    suppressed = await rows(hooks, "email_suppressions")
    assert [(s["address"], s["reason"]) for s in suppressed] == [
        ("patient@example.com", "bounced")]
    ours = [r for r in caplog.records if r.name.startswith("cari")]
    assert any(r.getMessage() == "email addresses suppressed" for r in ours)
    assert not any("example.com" in f"{r.getMessage()} {r.__dict__}".lower() for r in ours)


async def test_complaint_suppresses_and_temporary_bounce_does_not(hooks: Harness) -> None:
    temporary = resend_event("email.bounced", "Temporary", to="a@example.org")
    complaint = resend_event("email.complained", to="b@example.org")
    r1 = await hooks.client.post("/api/gtm/webhooks/resend", content=temporary,
                                 headers=resend_headers(temporary))
    r2 = await hooks.client.post("/api/gtm/webhooks/resend", content=complaint,
                                 headers=resend_headers(complaint))
    await settled(hooks, r1.json()["data"]["id"], "ignored")
    await settled(hooks, r2.json()["data"]["id"], "processed")
    assert [(s["address"], s["reason"]) for s in await rows(hooks, "email_suppressions")] == [
        ("b@example.org", "complained")]


async def test_resend_stale_tampered_and_redelivered(hooks: Harness) -> None:
    raw = resend_event()
    stale = resend_headers(raw, at=datetime.now(UTC) - timedelta(minutes=6))
    assert (await hooks.client.post("/api/gtm/webhooks/resend", content=raw,
                                    headers=stale)).status_code == 401
    headers = resend_headers(raw, "msg_same")
    tampered = raw.replace(b"Permanent", b"Temporary")
    assert (await hooks.client.post("/api/gtm/webhooks/resend", content=tampered,
                                    headers=headers)).status_code == 401
    assert await rows(hooks, "webhook_events") == []
    first = await hooks.client.post("/api/gtm/webhooks/resend", content=raw, headers=headers)
    # Svix retries carry the same svix-id, with a fresh timestamp and signature.
    retry = await hooks.client.post("/api/gtm/webhooks/resend", content=raw,
                                    headers=resend_headers(raw, "msg_same"))
    assert first.json()["data"]["duplicate"] is False
    assert retry.json()["data"] == {"id": first.json()["data"]["id"], "duplicate": True}


# ---------------------------------------------------------------- inbound leads


async def test_signed_lead_is_validated_and_stored(hooks: Harness) -> None:
    raw = lead_body()
    r = await hooks.client.post("/api/gtm/webhooks/inbound", content=raw,
                                headers=lead_headers(raw, key="lead-42"))
    assert r.status_code == 200, r.text
    event = await settled(hooks, r.json()["data"]["id"], "processed")
    assert event["event_id"] == "website:lead-42" and event["subject_id"] == "website"
    leads = await rows(hooks, "leads")
    assert [(x["source"], x["email"], x["country"], bool(x["consent"])) for x in leads] == [
        ("website", "amina@example.org", "KE", True)]
    again = await hooks.client.post("/api/gtm/webhooks/inbound", content=raw,
                                    headers=lead_headers(raw, key="lead-42"))
    assert again.json()["data"]["duplicate"] is True
    assert len(await rows(hooks, "leads")) == 1


async def test_lead_without_key_dedupes_on_the_body(hooks: Harness) -> None:
    raw = lead_body(phone="+254712345678", email=None)
    ids = {(await hooks.client.post("/api/gtm/webhooks/inbound", content=raw,
                                    headers=lead_headers(raw))).json()["data"]["id"]
           for _ in range(2)}
    assert len(ids) == 1


async def test_lead_signature_failures(hooks: Harness) -> None:
    raw = lead_body()
    now = int(time.time())
    cases = [
        lead_headers(raw, secret="some-other-secret-0000000"),
        lead_headers(raw, timestamp=now - 301),  # a captured request replayed later
        lead_headers(raw, source="unknown-partner"),
        {k: v for k, v in lead_headers(raw).items() if k != "X-Cari-Signature"},
    ]
    for headers in cases:
        r = await hooks.client.post("/api/gtm/webhooks/inbound", content=raw, headers=headers)
        assert r.status_code == 401, (headers, r.text)
    # The timestamp is signed: moving it forward breaks the signature.
    moved = lead_headers(raw, timestamp=now - 400)
    moved["X-Cari-Timestamp"] = str(now)
    r = await hooks.client.post("/api/gtm/webhooks/inbound", content=raw, headers=moved)
    assert r.status_code == 401
    bad = lead_headers(raw)
    bad["X-Cari-Signature"] = "md5=abc"
    assert (await hooks.client.post("/api/gtm/webhooks/inbound", content=raw,
                                    headers=bad)).status_code == 400
    assert await rows(hooks, "webhook_events") == []


async def test_invalid_lead_is_422_with_field_errors_and_not_stored(hooks: Harness) -> None:
    raw = json.dumps({"name": "x" * 201, "email": "not-an-email", "country": "Kenya",
                      "consent": "yes", "extra": 1}).encode()
    r = await hooks.client.post("/api/gtm/webhooks/inbound", content=raw,
                                headers=lead_headers(raw))
    assert r.status_code == 422, r.text
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert {"name", "email", "country", "consent", "extra"} <= fields
    unreachable = lead_body(email=None)
    r = await hooks.client.post("/api/gtm/webhooks/inbound", content=unreachable,
                                headers=lead_headers(unreachable))
    assert r.status_code == 422 and "email or a phone" in r.text
    not_json = b"name=amina"
    r = await hooks.client.post("/api/gtm/webhooks/inbound", content=not_json,
                                headers=lead_headers(not_json))
    assert r.status_code == 400
    assert await rows(hooks, "webhook_events") == []
