"""The Graph API's refusals and outages, as the sender meets them against the fake: permanent
failures keep their reason, rate limits and 5xx back off and send in the end, an expired
token waits, and a template the gateway thinks right but Meta refuses (132000) fails."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.messaging.conftest import KE_PHONE, World

REMINDER = "Hello {{1}}, your appointment is at {{2}}."


async def _template(world: World, before: Any = None, **body: Any) -> dict[str, Any]:
    await world.register("appointment_reminder", "en", REMINDER)
    patient = await world.patient()
    if before is not None:
        before()
    response = await world.notify(patient_id=patient, template="appointment_reminder",
                                  language="en", params=["Amina", "10:30"], **body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _sends(world: World) -> int:
    return len([r for r in world.graph.requests if r.path.endswith("/messages")])


async def test_undeliverable_is_permanent(world: World) -> None:
    world.graph.mark_undeliverable(KE_PHONE)
    created = await _template(world)
    failed = await world.settled(created["id"])
    assert (failed["status"], failed["error_code"]) == ("failed", 131026)
    assert "undeliverable" in failed["reason"].lower()
    await asyncio.sleep(0.3)
    assert _sends(world) == 1  # never retried


async def test_rate_limits_back_off_then_send(world: World) -> None:
    world.graph.fail(400, code=130429, message="Rate limit hit", times=2)
    world.graph.fail(400, code=131056, message="Pair rate limit hit", times=1)
    created = await _template(world)
    sent = await world.settled(created["id"])
    assert sent["status"] == "sent" and sent["attempts"] == 4, sent
    assert len(world.graph.accepted) == 1


async def test_server_errors_and_lost_connections_are_retried(world: World) -> None:
    world.graph.fail(503, times=1)
    world.graph.fail(500, times=1)
    world.graph.drop(times=1)  # the connection closes before Meta processed it
    created = await _template(world)
    sent = await world.settled(created["id"])
    assert sent["status"] == "sent" and sent["attempts"] == 4, sent
    assert len(world.graph.accepted) == 1


async def test_retries_are_bounded(world: World) -> None:
    world.graph.fail(503, times=50)
    created = await _template(world)
    failed = await world.settled(created["id"], timeout=20)
    assert failed["status"] == "failed"
    assert failed["reason"].startswith("gave up after 8 attempts")


async def test_slow_answer_is_retried(world: World) -> None:
    world.graph.slow(2.5)  # beyond the 2 s timeout: no answer arrived
    created = await _template(world)
    sent = await world.settled(created["id"], timeout=15)
    assert sent["status"] == "sent" and sent["attempts"] == 2
    # The slow request was processed by Meta after we gave up on it: the documented risk of
    # a retry without an idempotency key (README): at most one duplicate.
    assert 1 <= len(world.graph.accepted) <= 2


async def test_expired_token_waits_and_sends_once_renewed(world: World) -> None:
    created = await _template(world, before=world.graph.expire_token)
    waiting = await world.until(created["id"], lambda m: m["error_code"] == 190)
    assert waiting["status"] == "scheduled" and waiting["attempts"] == 0
    assert "access token expired" in waiting["reason"]
    sender = world.gateway.app.state.services.messaging.sender
    assert sender.health.token_expired
    ready = await world.gateway.client.get("/readyz")
    assert ready.status_code == 200  # messages wait; the gateway still serves
    assert ready.json()["details"] == {"whatsapp": "token_expired"}
    await asyncio.sleep(0.5)
    assert (await world.message(created["id"]))["status"] == "scheduled"  # still waiting
    world.graph.accept_token_again()
    sent = await world.settled(created["id"])
    assert sent["status"] == "sent"
    assert not sender.health.token_expired
    assert (await world.gateway.client.get("/readyz")).json()["details"] == {"whatsapp": "ok"}


async def test_metas_132000_fails_with_its_reason(world: World) -> None:
    """Registered here with one placeholder, at Meta with two: our check passes, Meta's does
    not; the message fails for good with Meta's code."""
    world.graph.add_template("lab_result_ready", "en", "Hello {{1}}, results at {{2}}")
    await world.gateway.client.post("/api/notifications/templates", json={
        "name": "lab_result_ready", "language": "en", "body": "Hello {{1}}",
        "status": "APPROVED"}, headers=world.gateway.auth("integrator"))
    patient = await world.patient()
    created = (await world.notify(patient_id=patient, template="lab_result_ready",
                                  language="en", params=["Amina"])).json()["data"]
    failed = await world.settled(created["id"])
    assert (failed["status"], failed["error_code"]) == ("failed", 132000)
    assert "parameters" in failed["reason"]
    assert _sends(world) == 1


async def test_131047_on_free_form_fails_with_the_window_reason(world: World) -> None:
    """Our window says open (an inbound message) but Meta's says closed."""
    patient = await world.patient()
    await world.post_webhook(world.graph.inbound_text(KE_PHONE, "hi", open_window=False))
    for _ in range(100):
        response = await world.notify(patient_id=patient, text="Reply received, thank you")
        if response.status_code == 201:
            break
        await asyncio.sleep(0.05)
    failed = await world.settled(response.json()["data"]["id"])
    assert (failed["status"], failed["error_code"]) == ("failed", 131047)
    assert "24-hour" in failed["reason"]


async def test_template_not_approved_is_refused(world: World) -> None:
    await world.register("refill", "sw", "Habari {{1}}", status="PAUSED")
    patient = await world.patient()
    refused = await world.notify(patient_id=patient, template="refill", language="sw",
                                 params=["Amina"])
    assert refused.status_code == 422
    assert "PAUSED" in refused.json()["error"]["message"]
    assert _sends(world) == 0
