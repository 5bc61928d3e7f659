"""notification.sent / notification.failed / notification.opted_out reach a subscribed
endpoint, valid against their catalogue schemas, with ids and statuses only."""

from __future__ import annotations

import asyncio

from tests.messaging.conftest import KE_PHONE, World
from tests.notifications.receiver import running_webhook_receiver
from tests.notifications.schemas import assert_valid

REMINDER = "Hello {{1}}, your appointment is at {{2}}."


async def test_messaging_events_are_delivered_without_phone_numbers(world: World) -> None:
    async with running_webhook_receiver() as receiver:
        created = await world.gateway.client.post("/api/webhooks/endpoints", json={
            "url": receiver.url("n"), "event_types": ["notification.*"]},
            headers=world.gateway.auth("integrator"))
        assert created.status_code == 201, created.text
        await world.register("appointment_reminder", "en", REMINDER)
        patient = await world.patient()
        sent = (await world.notify(patient_id=patient, template="appointment_reminder",
                                   language="en", params=["Amina", "10:30"])).json()["data"]
        await world.settled(sent["id"])
        world.graph.mark_undeliverable(KE_PHONE)
        failed = (await world.notify(patient_id=patient, template="appointment_reminder",
                                     language="en", params=["Amina", "11:30"])).json()["data"]
        await world.settled(failed["id"])
        await world.post_webhook(world.graph.inbound_text(KE_PHONE, "STOP"))
        hook = receiver.hook("n")
        for _ in range(200):
            if {"notification.sent", "notification.failed"} <= {
                    e["type"] for e in hook.events()} and len(
                    hook.events("notification.opted_out")) == 2:
                break
            await asyncio.sleep(0.05)
        by_type = {e["type"]: e for e in hook.events()}
        assert by_type["notification.sent"]["data"]["message_id"] == sent["id"]
        assert by_type["notification.failed"]["data"]["error_code"] == 131026
        consents = [e["data"] for e in hook.events("notification.opted_out")]
        assert consents == [{"patient_ids": [patient], "state": "opted_in", "source": "api"},
                            {"patient_ids": [patient], "state": "opted_out",
                             "source": "keyword"}]
        for event in hook.events():
            assert_valid(event)
            assert "254711000111" not in str(event) and "Amina" not in str(event)
