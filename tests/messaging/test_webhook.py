"""GET/POST /api/webhooks/whatsapp with Meta-signed payloads from the fake Graph API:
verification, signatures, dedupe, opt-out keywords, quick replies and statuses."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from resolvers.messaging.model import QuickReply
from tests.messaging.conftest import KE_PHONE, World, gateway_settings
from tests.messaging.fake_graph import VERIFY_TOKEN, FakeGraph
from tests.support import running_app

REMINDER = "Hello {{1}}, your appointment is at {{2}}."


async def events(world: World, **params: str) -> list[dict[str, Any]]:
    response = await world.gateway.client.get(
        "/api/webhooks/events", params={"provider": "whatsapp", "limit": "200", **params},
        headers=world.gateway.auth("admin"))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]["items"]
    return items


async def processed(world: World, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Wait until ``count`` whatsapp events are processed (or ignored)."""
    for _ in range(int(timeout / 0.05)):
        found = await events(world)
        if sum(e["status"] in ("processed", "ignored") for e in found) >= count:
            return found
        await asyncio.sleep(0.05)
    return await events(world)


async def test_verification_handshake(world: World) -> None:
    ok = await world.gateway.client.get("/api/webhooks/whatsapp", params={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert ok.status_code == 200
    assert ok.text == "1158201444" and ok.headers["content-type"].startswith("text/plain")
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN,
                    "hub.challenge": "1"}, {}):
        refused = await world.gateway.client.get("/api/webhooks/whatsapp", params=params)
        assert refused.status_code == 403


async def test_not_configured_is_404(tmp_path: Path, sqlite_url: str) -> None:
    async with running_app(gateway_settings(tmp_path, sqlite_url, None)) as gateway:
        get = await gateway.client.get("/api/webhooks/whatsapp", params={
            "hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})
        raw, headers = FakeGraph().signed(FakeGraph().inbound_text(KE_PHONE, "hi"))
        post = await gateway.client.post("/api/webhooks/whatsapp", content=raw,
                                          headers=headers)
        assert (get.status_code, post.status_code) == (404, 404)


async def test_bad_or_missing_signature_is_refused_and_nothing_stored(world: World) -> None:
    payload = world.graph.inbound_text(KE_PHONE, "hello")
    raw, headers = world.graph.signed(payload, secret="not-the-app-secret")
    forged = await world.gateway.client.post(world.webhook_url, content=raw, headers=headers)
    assert forged.status_code == 401
    raw, headers = world.graph.signed(payload)
    tampered = await world.gateway.client.post(world.webhook_url, content=raw + b" ",
                                               headers=headers)
    assert tampered.status_code == 401
    missing = await world.gateway.client.post(world.webhook_url, content=raw,
                                              headers={"Content-Type": "application/json"})
    assert missing.status_code == 401
    assert await events(world) == []


async def test_one_post_many_items_stored_together_and_replays_deduplicated(
        world_any_db: World) -> None:
    w = world_any_db
    payload = w.graph.merge(w.graph.inbound_text(KE_PHONE, "hello"),
                            w.graph.inbound_text("+254711000222", "habari"),
                            w.graph.status("wamid.unknown1", "delivered", recipient="254711000111"))
    first = await w.post_webhook(payload)
    assert first.status_code == 200, first.text
    assert first.json()["data"] == {"received": 3, "stored": 3}
    again = await w.post_webhook(payload)  # Meta retries: nothing new
    assert again.json()["data"] == {"received": 3, "stored": 0}
    stored = await events(w)
    assert len(stored) == 3
    assert {e["event_type"] for e in stored} == {"message", "status"}
    # A status is deduplicated on (wamid, status): a later status of the message is new.
    read = await w.post_webhook(w.graph.status("wamid.unknown1", "read", recipient="1"))
    assert read.json()["data"]["stored"] == 1


async def test_stop_opts_out_is_confirmed_and_nothing_is_sent_after(world_any_db: World) -> None:
    w = world_any_db
    await w.register("appointment_reminder", "en", REMINDER)
    patient = await w.patient()
    response = await w.post_webhook(w.graph.inbound_text(KE_PHONE, " Stop! "))
    assert response.status_code == 200
    confirmation = await _wait(lambda: w.graph.sent_to(KE_PHONE))
    assert [a.type for a in confirmation] == ["text"]
    assert "no longer receive" in (confirmation[0].text or "")
    consent = (await w.gateway.client.get(f"/api/patients/{patient}/messaging-consent",
                                          headers=w.gateway.auth("clinician"))).json()["data"]
    assert consent["state"] == "opted_out"
    assert [e["source"] for e in consent["history"]] == ["api", "keyword"]
    refused = await w.notify(patient_id=patient, template="appointment_reminder",
                             language="en", params=["Amina", "10:30"])
    assert refused.status_code == 409 and "opted out" in refused.json()["error"]["message"]
    # Through the port (bulk callers), the message is stored suppressed, never sent.
    from datetime import UTC, datetime

    from resolvers.messaging.model import MessageRequest, Purpose, TemplateCall
    [stored] = await w.gateway.app.state.services.messaging.scheduler.schedule([MessageRequest(
        key="appointment:1:24h", purpose=Purpose.APPOINTMENT_REMINDER,
        template=TemplateCall("appointment_reminder", "en", ("Amina", "10:30")),
        send_at=datetime.now(UTC), patient_id=patient)])
    assert stored.status == "suppressed" and "opted out" in (stored.reason or "")
    await asyncio.sleep(0.3)
    assert len(w.graph.sent_to(KE_PHONE)) == 1  # only the confirmation


@pytest.mark.parametrize("word", ["ACHA", "arrêt", "ARRET", "Sitisha."])
async def test_local_opt_out_keywords(world: World, word: str) -> None:
    patient = await world.patient()
    await world.post_webhook(world.graph.inbound_text(KE_PHONE, word))
    await _wait(lambda: world.graph.sent_to(KE_PHONE))
    consent = (await world.gateway.client.get(f"/api/patients/{patient}/messaging-consent",
                                              headers=world.gateway.auth("clinician"))).json()
    assert consent["data"]["state"] == "opted_out"


async def test_start_opts_back_in(world: World) -> None:
    await world.register("appointment_reminder", "en", REMINDER)
    patient = await world.patient()
    await world.post_webhook(world.graph.inbound_text(KE_PHONE, "STOP"))
    await world.post_webhook(world.graph.inbound_text(KE_PHONE, "Anza"))
    await _wait(lambda: len(world.graph.sent_to(KE_PHONE)) >= 2)
    sent = await world.notify(patient_id=patient, template="appointment_reminder",
                              language="en", params=["Amina", "10:30"])
    assert sent.status_code == 201


async def test_free_form_only_inside_the_window(world: World) -> None:
    patient = await world.patient()
    refused = await world.notify(patient_id=patient, text="Your results are ready to discuss")
    assert refused.status_code == 409
    assert "24 hours" in refused.json()["error"]["message"]
    await world.post_webhook(world.graph.inbound_text(KE_PHONE, "hello doctor"))
    await processed(world, 1)
    accepted = await world.notify(patient_id=patient, text="Your results are ready to discuss")
    assert accepted.status_code == 201, accepted.text
    sent = await world.settled(accepted.json()["data"]["id"])
    assert sent["status"] == "sent"
    assert world.graph.sent_to(KE_PHONE)[-1].text == "Your results are ready to discuss"


class Recorder:
    def __init__(self) -> None:
        self.replies: list[QuickReply] = []

    async def on_quick_reply(self, reply: QuickReply) -> None:
        self.replies.append(reply)


async def test_quick_replies_reach_the_handler_of_their_prefix(world: World) -> None:
    await world.register("appointment_reminder", "en", REMINDER, buttons=("Confirm", "Cancel"))
    recorder = Recorder()
    world.gateway.app.state.services.messaging.quick_replies.register("appointment:", recorder)
    patient = await world.patient()
    created = (await world.notify(patient_id=patient, template="appointment_reminder",
                                  language="en", params=["Amina", "10:30"],
                                  button_payloads=["appointment:confirm:a1",
                                                   "appointment:cancel:a1"],
                                  key="apt-a1")).json()["data"]
    sent = await world.settled(created["id"])
    await world.post_webhook(world.graph.merge(
        world.graph.button_reply(KE_PHONE, "appointment:confirm:a1", "Confirm",
                                 context_id=sent["wamid"]),
        world.graph.interactive_reply(KE_PHONE, "appointment:cancel:a1", "Cancel"),
        world.graph.button_reply(KE_PHONE, "survey:yes", "Yes")))
    found = await processed(world, 3)
    assert sorted(r.payload for r in recorder.replies) == ["appointment:cancel:a1",
                                                           "appointment:confirm:a1"]
    tapped = next(r for r in recorder.replies if r.payload.startswith("appointment:confirm"))
    assert tapped.replied_to_key == "api:apt-a1" and tapped.phone == KE_PHONE
    assert sorted(e["status"] for e in found) == ["ignored", "processed", "processed"]


async def test_statuses_move_forward_only_and_failures_keep_their_code(world: World) -> None:
    await world.register("appointment_reminder", "en", REMINDER)
    patient = await world.patient()
    created = (await world.notify(patient_id=patient, template="appointment_reminder",
                                  language="en", params=["Amina", "10:30"])).json()["data"]
    wamid = (await world.settled(created["id"]))["wamid"]
    now = 1_800_000_000
    await world.post_webhook(world.graph.status(wamid, "read", timestamp=now + 20))
    await world.post_webhook(world.graph.status(wamid, "delivered", timestamp=now + 10))
    await world.post_webhook(world.graph.status(wamid, "sent", timestamp=now))
    await processed(world, 3)
    assert (await world.message(created["id"]))["status"] == "read"

    other = (await world.notify(patient_id=patient, template="appointment_reminder",
                                language="en", params=["Amina", "11:00"])).json()["data"]
    other_wamid = (await world.settled(other["id"]))["wamid"]
    await world.post_webhook(world.graph.status(other_wamid, "failed", errors=[{
        "code": 131026, "title": "Message undeliverable",
        "error_data": {"details": "Message undeliverable."}}]))
    await processed(world, 4)
    failed = await world.message(other["id"])
    assert (failed["status"], failed["error_code"]) == ("failed", 131026)
    assert "131026" in failed["reason"]


async def test_signature_over_escaped_unicode_bytes(world: World) -> None:
    """Meta signs its exact bytes (\\u00ca); the gateway verifies them, not a re-encoding."""
    payload = world.graph.inbound_text(KE_PHONE, "ARRÊT")
    raw = json.dumps(payload).encode()
    assert b"\\u00ca" in raw
    assert (await world.post_webhook(raw)).status_code == 200


async def _wait(found: Any, timeout: float = 10.0) -> Any:
    for _ in range(int(timeout / 0.05)):
        if value := found():
            return value
        await asyncio.sleep(0.05)
    return found()
