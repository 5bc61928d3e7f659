"""Critical-value alerts: on held results, acknowledgement, escalation, delivery channels,
and never a dead letter for want of a channel."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from adapters.settings.labs import LabSettings
from tests.receiver import eventually, running_receiver
from tests.support import Harness, make_settings, running_app

CRITICAL = (
    "MSH|^~\\&|LIS|KNH_LAB|CARI|CARI|20260415120000||ORU^R01|{id}|P|2.5\r"
    "PID|1||{pid}||{name}||{birth}|F\r"
    "OBR|1||ORD-{id}|BMP^Basic metabolic panel|||20260415110000|||||||||DR7^Kamau^Peter\r"
    "OBX|1|NM|2823-3^Potassium^LN||7.1|mmol/L|3.5-5.1|HH|||F")


def _critical(control_id: str, pid: str = "K1", name: str = "WANJIRU^MERCY",
              birth: str = "19880214") -> str:
    return CRITICAL.format(id=control_id, pid=pid, name=name, birth=birth)


async def _ingest(h: Harness, message: str) -> dict[str, Any]:
    r = await h.client.post("/api/lab/hl7-ingest", content=message.encode(),
                            headers={**h.auth("lab"), "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def _alerts(h: Harness, query: str = "") -> list[dict[str, Any]]:
    r = await h.client.get(f"/api/lab/alerts{query}", headers=h.auth("clinician"))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["data"]["items"]
    return items


async def test_a_held_result_alerts_naming_its_candidates_and_review_tasks(
    gateway: Harness,
) -> None:
    h = gateway
    registered = await h.create_patient(family="Wanjiru", given=["Mercy"],
                                        birth_date="1988-02-14", gender="female")
    # The laboratory's copy: a different number, a misspelt name, day and month swapped.
    data = await _ingest(h, _critical("H1", pid="LAB55", name="WANJIRU^MERCI",
                                      birth="19881402"))
    assert data["patient_id"] is None and data["observations_created"] == 0, data
    (alert,) = await _alerts(h)
    assert alert["patient_id"] is None and alert["lab_result_id"] == data["lab_result_id"]
    tasks = (await h.client.get("/api/mpi/review", headers=h.auth("clinician"))
             ).json()["data"]["items"]
    assert [c["patient_id"] for c in alert["candidates"]] == [registered["id"]]
    assert alert["candidates"][0]["review_task_id"] == tasks[0]["id"]
    assert alert["recipient"] == "DR7^Kamau^Peter"
    # A person links the result: the same alert now names the patient; no second alert.
    r = await h.client.post(f"/api/mpi/review/{tasks[0]['id']}/resolve",
                            json={"decision": "link"}, headers=h.auth("clinician"))
    assert r.status_code == 200, r.text
    (after,) = await _alerts(h)
    assert after["id"] == alert["id"] and after["patient_id"] == registered["id"]
    assert after["observation_id"]


async def test_acknowledge_records_who_and_when_once(gateway: Harness) -> None:
    h = gateway
    await _ingest(h, _critical("A1"))
    (alert,) = await _alerts(h)
    assert alert["acknowledged_at"] is None
    url = f"/api/lab/alerts/{alert['id']}/acknowledge"
    assert (await h.client.post(url, headers=h.auth("billing"))).status_code == 403
    r = await h.client.post(url, headers=h.auth("clinician", sub="dr-achieng"))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["acknowledged_by"] == "dr-achieng"
    assert r.json()["data"]["acknowledged_at"]
    again = await h.client.post(url, headers=h.auth("clinician", sub="dr-otieno"))
    assert again.status_code == 409 and "dr-achieng" in again.json()["error"]["message"]
    missing = await h.client.post("/api/lab/alerts/nope/acknowledge", headers=h.auth("lab"))
    assert missing.status_code == 404
    (stored,) = await _alerts(h)
    assert stored["acknowledged_by"] == "dr-achieng"
    audit = (await h.client.get("/api/admin/audit-events?resource_type=LabAlert&action=U",
                                headers=h.auth("admin"))).json()["data"]["items"]
    assert [a["subject"] for a in audit if a["outcome"] == "success"] == ["dr-achieng"]


async def test_acknowledge_over_graphql(gateway: Harness) -> None:
    await _ingest(gateway, _critical("G1"))
    (alert,) = await _alerts(gateway)
    mutation = """mutation($id: ID!) { acknowledgeLabAlert(id: $id) { __typename
        ... on LabAlert { id acknowledgedBy deliveryStatus }
        ... on ConflictError { message } ... on NotFoundError { message } } }"""
    body = await gateway.gql(mutation, {"id": alert["id"]}, roles=("lab",), sub="lab-tech-1")
    assert body["data"]["acknowledgeLabAlert"]["acknowledgedBy"] == "lab-tech-1"
    body = await gateway.gql(mutation, {"id": alert["id"]}, roles=("lab",))
    assert body["data"]["acknowledgeLabAlert"]["__typename"] == "ConflictError"
    body = await gateway.gql(mutation, {"id": "nope"}, roles=("lab",))
    assert body["data"]["acknowledgeLabAlert"]["__typename"] == "NotFoundError"
    listed = await gateway.gql("{ labAlerts { id acknowledgedBy escalationLevel candidates "
                               "{ patientId } } }", roles=("clinician",))
    assert listed["data"]["labAlerts"][0]["acknowledgedBy"] == "lab-tech-1"


async def test_unacknowledged_alerts_escalate_and_acknowledged_ones_do_not(
    tmp_path: Path, sqlite_url: str,
) -> None:
    async with running_receiver() as receiver:
        labs = LabSettings(alert_escalate_seconds=0.3, alert_max_escalations=2,
                           alert_escalation_recipient="matron-ward-4",
                           alert_webhook_url=receiver.url)
        settings = make_settings(tmp_path / "var", sqlite_url, labs=labs,
                                 outbound_allowlist=("127.0.0.1",))
        async with running_app(settings) as h:
            one = await _ingest(h, _critical("E1", pid="P1"))
            two = await _ingest(h, _critical("E2", pid="P2", name="ACHIENG^ROSE",
                                             birth="19700101"))
            by_result = {a["lab_result_id"]: a for a in await _alerts(h)}
            first, second = by_result[one["lab_result_id"]], by_result[two["lab_result_id"]]
            ack = await h.client.post(f"/api/lab/alerts/{second['id']}/acknowledge",
                                      headers=h.auth("clinician"))
            assert ack.status_code == 200

            async def levels() -> dict[str, int]:
                return {a["id"]: a["escalation_level"] for a in await _alerts(h)}

            found = await eventually(levels, lambda got: got[first["id"]] == 2, timeout=10)
            assert found[second["id"]] == 0  # acknowledged in time: never escalated

            def escalations() -> list[dict[str, Any]]:
                return [b for b in receiver.accepted.values()
                        if b["type"] == "lab.critical.escalated"]

            await eventually(_async(escalations), lambda got: len(got) == 2)
            assert {b["recipient"] for b in escalations()} == {"matron-ward-4"}
            assert {b["alert_id"] for b in escalations()} == {first["id"]}
            assert sorted(b["escalation_level"] for b in escalations()) == [1, 2]
            await asyncio.sleep(1.0)  # capped at alert_max_escalations: no third
            assert len(escalations()) == 2


def _async(fetch: Any) -> Any:
    async def wrapped() -> Any:
        return fetch()
    return wrapped


async def test_without_a_channel_alerts_are_undelivered_not_dead_letters(
    gateway: Harness,
) -> None:
    h = gateway
    await _ingest(h, _critical("N1"))

    async def outbox() -> list[dict[str, Any]]:
        r = await h.client.get("/api/admin/outbox?destination=lab_alerts",
                               headers=h.auth("admin"))
        items: list[dict[str, Any]] = r.json()["data"]["items"]
        return items

    settled = await eventually(outbox, lambda ms: ms and ms[0]["status"] in ("delivered", "dead"))
    assert settled[0]["status"] == "delivered"  # handled: never a dead letter
    (alert,) = await _alerts(h)
    assert alert["delivery_status"] == "undelivered"
    metrics = (await h.client.get("/metrics", headers=h.auth("admin"))).text
    assert 'cari_lab_alerts_open{delivery="undelivered"} 1.0' in metrics
    assert "cari_lab_alerts_undelivered_total 1.0" in metrics
    dead = (await h.client.get("/api/admin/outbox?status=dead", headers=h.auth("admin"))
            ).json()["data"]["items"]
    assert dead == []


async def test_a_configured_webhook_channel_receives_each_alert(
    tmp_path: Path, sqlite_url: str,
) -> None:
    async with running_receiver() as receiver:
        receiver.fail_next = 1  # the channel is down once: retried, not lost
        settings = make_settings(tmp_path / "var", sqlite_url,
                                 outbound_allowlist=("127.0.0.1",),
                                 labs=LabSettings(alert_webhook_url=receiver.url))
        async with running_app(settings) as h:
            await _ingest(h, _critical("W1"))
            (alert,) = await eventually(
                lambda: _alerts(h), lambda got: got and got[0]["delivery_status"] == "delivered")
            (body,) = receiver.accepted.values()
            assert body["type"] == "lab.critical" and body["alert_id"] == alert["id"]
            assert body["code"] == "2823-3" and body["patient_id"] == alert["patient_id"]
            assert len(receiver.attempts) == 2
