"""POST /api/notifications end to end against the fake Graph API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.messaging.conftest import KE_PHONE, World

REMINDER = "Hello {{1}}, your appointment is at {{2}}."


async def test_template_is_sent_with_its_parameters(world_any_db: World) -> None:
    w = world_any_db
    await w.register("appointment_reminder", "en", REMINDER)
    patient = await w.patient("0711 000 111")  # national form, read in Kenya
    response = await w.notify(patient_id=patient, template="appointment_reminder",
                              language="en", params=["Amina", "10:30"])
    assert response.status_code == 201, response.text
    created = response.json()["data"]
    assert created["status"] == "scheduled"
    sent = await w.settled(created["id"])
    assert sent["status"] == "sent", sent
    assert sent["wamid"] and sent["wamid"].startswith("wamid.")
    [accepted] = w.graph.sent_to(KE_PHONE)
    assert accepted.wamid == sent["wamid"]
    assert accepted.body["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Amina"}, {"type": "text", "text": "10:30"}]
    assert accepted.body["biz_opaque_callback_data"] == created["id"]


async def test_wrong_parameter_count_is_refused_before_the_graph_api(world: World) -> None:
    await world.register("appointment_reminder", "en", REMINDER)
    patient = await world.patient()
    response = await world.notify(patient_id=patient, template="appointment_reminder",
                                  language="en", params=["Amina"])
    assert response.status_code == 422
    assert "2 body parameter(s); 1 given" in response.json()["error"]["message"]
    listed = await world.gateway.client.get("/api/notifications",
                                            headers=world.gateway.auth("clinician"))
    assert listed.json()["data"]["items"] == []  # nothing stored
    assert world.graph.requests == [r for r in world.graph.requests
                                    if not r.path.endswith("/messages")]


async def test_scheduled_then_cancelled_is_never_sent(world_any_db: World) -> None:
    w = world_any_db
    await w.register("appointment_reminder", "en", REMINDER)
    patient = await w.patient()
    later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    created = (await w.notify(patient_id=patient, template="appointment_reminder",
                              language="en", params=["Amina", "10:30"], send_at=later)
               ).json()["data"]
    cancelled = await w.gateway.client.post(f"/api/notifications/{created['id']}/cancel",
                                            headers=w.gateway.auth("clinician"))
    assert cancelled.status_code == 200 and cancelled.json()["data"]["status"] == "cancelled"
    import asyncio
    await asyncio.sleep(1.5)
    assert w.graph.accepted == []
    assert (await w.message(created["id"]))["status"] == "cancelled"
    again = await w.gateway.client.post(f"/api/notifications/{created['id']}/cancel",
                                        headers=w.gateway.auth("clinician"))
    assert again.status_code == 409


async def test_national_number_is_read_in_the_patients_country(world: World) -> None:
    """A FHIR Patient in Ghana with a national number: +233, not the default country (KE)."""
    await world.register("appointment_reminder", "en", REMINDER)
    created = await world.gateway.client.post("/api/fhir/Patient", json={
        "resourceType": "Patient", "name": [{"family": "Mensah", "given": ["Ama"]}],
        "identifier": [{"system": "urn:test:mrn", "value": "GH-0001"}],
        "telecom": [{"system": "phone", "value": "024 412 3456"}],
        "address": [{"use": "home", "city": "Accra", "country": "GH"}]},
        headers={**world.gateway.auth("clinician"), "Content-Type": "application/fhir+json"})
    assert created.status_code == 201, created.text
    patient = created.json()["id"]
    consent = await world.gateway.client.put(f"/api/patients/{patient}/messaging-consent",
                                             json={"state": "opted_in"},
                                             headers=world.gateway.auth("clinician"))
    assert consent.json()["data"]["phone"] == "+233244123456"
    message = (await world.notify(patient_id=patient, template="appointment_reminder",
                                  language="en", params=["Ama", "09:00"])).json()["data"]
    assert (await world.settled(message["id"]))["status"] == "sent"
    assert [a.to for a in world.graph.accepted] == ["233244123456"]


async def test_template_sync_reads_every_page_with_statuses(world: World) -> None:
    world.graph.add_template("appointment_reminder", "en", REMINDER, buttons=("Yes", "No"))
    world.graph.add_template("appointment_reminder", "sw", "Habari {{1}}, saa {{2}}.")
    world.graph.add_template("lab_result_ready", "fr", "Bonjour, vos résultats.",
                             status="PENDING")
    world.graph.add_template("refill", "en", "Refill {{1}}", status="REJECTED")
    synced = await world.gateway.client.post("/api/notifications/templates/sync",
                                             headers=world.gateway.auth("integrator"))
    assert synced.status_code == 200
    items = {(t["name"], t["language"]): t for t in synced.json()["data"]["items"]}
    assert len(items) == 4  # the fake answers 2 per page
    assert items[("appointment_reminder", "en")]["buttons"] == ["Yes", "No"]
    assert items[("appointment_reminder", "sw")]["body_params"] == 2
    assert items[("lab_result_ready", "fr")]["status"] == "PENDING"
    assert items[("refill", "en")]["status"] == "REJECTED"
    world.graph.set_status("lab_result_ready", "fr", "APPROVED")
    again = await world.gateway.client.post("/api/notifications/templates/sync",
                                            headers=world.gateway.auth("integrator"))
    assert {t["status"] for t in again.json()["data"]["items"]
            if t["name"] == "lab_result_ready"} == {"APPROVED"}
    refused = await world.gateway.client.post("/api/notifications/templates/sync",
                                              headers=world.gateway.auth("clinician"))
    assert refused.status_code == 403
