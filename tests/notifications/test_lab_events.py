"""Lab events at the source (SQLite and PostgreSQL): a critical HL7 ORU^R01 message leads to
a signed ``lab.alert.raised`` delivery at a subscribed endpoint, with ids and no values; the
result, its correction and the acknowledgement are announced too; wildcards and exact types
select what each endpoint gets; every body validates against its schema."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.settings.labs import LabSettings
from tests.hl7v2 import messages
from tests.notifications.receiver import running_webhook_receiver
from tests.notifications.schemas import assert_valid
from tests.notifications.support import subscribe, webhook_app
from tests.receiver import wait_for
from tests.support import Harness


def _without_clock(body: bytes) -> bytes:
    """A delivery's body without the envelope's own send time: its fraction of a second
    can spell a result value ("...:16.9..." holds "6.9") without leaking it."""
    event = json.loads(body)
    event.pop("timestamp", None)
    return json.dumps(event).encode()

NATID = "urn:oid:1.3.6.1.4.1.9999.1"


async def _ingest(h: Harness, text: str) -> dict[str, object]:
    r = await h.client.post("/api/lab/hl7-ingest", content=(text + "\r").encode(),
                            headers={**h.auth("lab"), "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()["data"]
    return data


async def test_a_critical_hl7_result_reaches_subscribed_endpoints(tmp_path: Path,
                                                                  database_url: str) -> None:
    async with running_webhook_receiver() as receiver, \
            webhook_app(tmp_path, database_url) as h:
        alerts = await subscribe(h, receiver.url("alerts"), ["lab.alert.raised"])
        labs = await subscribe(h, receiver.url("labs"), ["lab.*"])
        fhir_obs = await subscribe(h, receiver.url("obs"), ["fhir.resource.*"],
                                   resource_types=["Patient"])
        patient = await h.create_patient(identifiers=[{"system": NATID, "value": "NID9988"}],
                                         family="Odhiambo", given=["Grace"],
                                         birth_date="1985-04-12", gender="female")
        ingested = await _ingest(h, messages.WORKED_EXAMPLE)
        assert ingested["patient_id"] == patient["id"]

        await wait_for(lambda: receiver.hook("alerts").events(), timeout=10)
        [raised] = receiver.hook("alerts").events()
        hit = receiver.hook("alerts").ok_hits[0]
        assert hit.verifies_with(alerts["secret"])
        assert raised["type"] == "lab.alert.raised"
        assert raised["data"]["lab_result_id"] == ingested["lab_result_id"]
        assert raised["data"]["patient_id"] == patient["id"]
        assert raised["data"]["escalation_level"] == 0
        payload = _without_clock(hit.body)
        assert b"6.9" not in payload and b"ODHIAMBO" not in payload.upper()

        alert_list = await h.client.get("/api/lab/alerts", params={"patient_id": patient["id"]},
                                        headers=h.auth("clinician"))
        [alert] = alert_list.json()["data"]["items"]
        assert alert["id"] == raised["data"]["alert_id"]
        ack = await h.client.post(f"/api/lab/alerts/{alert['id']}/acknowledge",
                                  headers=h.auth("clinician", sub="dr-achieng"))
        assert ack.status_code == 200, ack.text

        corrected = messages.WORKED_EXAMPLE.replace("LAB000123", "LAB000124").replace(
            "||6.9|", "||7.1|").replace("|HH|||F|", "|HH|||C|")
        second = await _ingest(h, corrected)

        def labs_types() -> list[str]:
            return sorted(e["type"] for e in receiver.hook("labs").events())

        await wait_for(lambda: labs_types().count("lab.result.created") == 2
                       and "lab.result.corrected" in labs_types()
                       and "lab.alert.acknowledged" in labs_types(), timeout=10)
        events = receiver.hook("labs").events()
        created = [e for e in events if e["type"] == "lab.result.created"]
        assert {e["data"]["lab_result_id"] for e in created} == {
            ingested["lab_result_id"], second["lab_result_id"]}
        assert all(e["data"]["patient_matched"] for e in created)
        [correction] = [e for e in events if e["type"] == "lab.result.corrected"]
        assert correction["data"]["lab_result_id"] == second["lab_result_id"]
        first_obs = next(e for e in created if e["data"]["lab_result_id"] ==
                         ingested["lab_result_id"])["data"]["observation_ids"]
        assert correction["data"]["observation_ids"] == [first_obs[0]]  # the potassium
        [acked] = [e for e in events if e["type"] == "lab.alert.acknowledged"]
        assert acked["data"]["alert_id"] == alert["id"]
        assert acked["data"]["acknowledged_by"] == "dr-achieng"
        assert all(hit.verifies_with(labs["secret"]) for hit in receiver.hook("labs").ok_hits)
        # "alerts" wanted lab.alert.raised only: the corrected potassium raised a second one.
        await wait_for(lambda: len(receiver.hook("alerts").events()) == 2, timeout=10)
        assert {e["type"] for e in receiver.hook("alerts").events()} == {"lab.alert.raised"}

        # fhir.resource.* filtered to Patient: the patient, never the lab Observations.
        await wait_for(lambda: receiver.hook("obs").events(), timeout=10)
        assert {e["data"]["resource_type"] for e in receiver.hook("obs").events()} == {
            "Patient"}
        assert receiver.hook("obs").ok_hits[0].verifies_with(fhir_obs["secret"])

        for hook in receiver.hooks.values():
            for body in hook.events():
                assert_valid(body)


async def test_an_unacknowledged_alert_is_raised_again_at_each_escalation(
        tmp_path: Path, sqlite_url: str) -> None:
    labs = LabSettings(alert_escalate_seconds=0.3, alert_max_escalations=2)
    async with running_webhook_receiver() as receiver, \
            webhook_app(tmp_path, sqlite_url, settings_changes={"labs": labs}) as h:
        made = await subscribe(h, receiver.url("alerts"), ["lab.alert.raised"])
        await h.create_patient(identifiers=[{"system": NATID, "value": "NID9988"}],
                               family="Odhiambo", given=["Grace"], birth_date="1985-04-12",
                               gender="female")
        await _ingest(h, messages.WORKED_EXAMPLE)
        hook = receiver.hook("alerts")
        await wait_for(lambda: len(hook.events()) == 3, timeout=15)
        levels = sorted(e["data"]["escalation_level"] for e in hook.events())
        assert levels == [0, 1, 2]
        assert len({e["data"]["alert_id"] for e in hook.events()}) == 1
        assert all(hit.verifies_with(made["secret"]) for hit in hook.ok_hits)


async def test_fhir_writes_announce_created_updated_deleted(tmp_path: Path,
                                                            sqlite_url: str) -> None:
    async with running_webhook_receiver() as receiver, webhook_app(tmp_path, sqlite_url) as h:
        await subscribe(h, receiver.url("obs"), ["fhir.resource.*"],
                        resource_types=["Observation"])
        patient = await h.create_patient()
        headers = {**h.auth("clinician"), "Content-Type": "application/fhir+json"}
        body = {"resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
                "subject": {"reference": f"Patient/{patient['id']}"},
                "valueQuantity": {"value": 4.1, "unit": "mmol/L"}}
        created = await h.client.post("/api/fhir/Observation", json=body, headers=headers)
        assert created.status_code == 201, created.text
        oid = created.json()["id"]
        updated = await h.client.put(f"/api/fhir/Observation/{oid}", headers=headers,
                                     json={**body, "id": oid, "status": "amended"})
        assert updated.status_code == 200, updated.text
        deleted = await h.client.delete(f"/api/fhir/Observation/{oid}", headers=headers)
        assert deleted.status_code == 204, deleted.text
        hook = receiver.hook("obs")
        await wait_for(lambda: len(hook.events()) == 3, timeout=10)
        got = sorted((e["data"]["version_id"], e["type"]) for e in hook.events())
        assert got == [("1", "fhir.resource.created"), ("2", "fhir.resource.updated"),
                       ("3", "fhir.resource.deleted")]
        assert {e["data"]["resource_id"] for e in hook.events()} == {oid}
        assert b"4.1" not in b"".join(_without_clock(hit.body) for hit in hook.hits)
        for event in hook.events():
            assert_valid(event)


async def test_events_nobody_subscribes_to_are_not_written(tmp_path: Path,
                                                           database_url: str) -> None:
    """The filters are read in the writing transaction: with no endpoint, an ingest writes
    no fan-out row at all; with one for lab.* only, the lab events are written (one row for
    the ingest's events) and the Observations' fhir.resource.created are not."""
    async def fanout_rows(h: Harness) -> list[dict[str, object]]:
        r = await h.client.get("/api/admin/outbox", params={
            "destination": "webhook_fanout", "limit": 200}, headers=h.auth("admin"))
        assert r.status_code == 200, r.text
        items: list[dict[str, object]] = r.json()["data"]["items"]
        return items

    async with running_webhook_receiver() as receiver, \
            webhook_app(tmp_path, database_url) as h:
        await h.create_patient(identifiers=[{"system": NATID, "value": "NID9988"}],
                               family="Odhiambo", given=["Grace"], birth_date="1985-04-12",
                               gender="female")
        await _ingest(h, messages.WORKED_EXAMPLE)
        assert await fanout_rows(h) == []

        await subscribe(h, receiver.url("labs"), ["lab.*"])
        await _ingest(h, messages.WORKED_EXAMPLE.replace("LAB000123", "LAB000124")
                      .replace("FIL552", "FIL553"))
        # Each event is its own delivery, in no set order (the ingest also raised an alert):
        # wait for the one this checks, not for the first to arrive.
        def types() -> set[str]:
            return {str(e["type"]) for e in receiver.hook("labs").events()}

        await wait_for(lambda: "lab.result.created" in types(), timeout=10)
        assert "lab.result.created" in types()
        # One row: the ingest's lab events (batched). The Observations' and the report's
        # fhir.resource.created would have been a second (nobody subscribes to them).
        assert len(await fanout_rows(h)) == 1
