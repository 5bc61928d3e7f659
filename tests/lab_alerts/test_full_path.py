"""A critical HL7 result reaches people (SQLite and PostgreSQL): the signed
``lab.alert.raised`` delivery at a subscribed endpoint (verified with svix), a live
``labAlertRaised`` event, and, unacknowledged, escalation along the facility's route: the
ordering clinician's WhatsApp (phone from the FHIR store's Practitioner) sent by patient
messaging to the fake Graph API, then the on-call number. An acknowledged alert escalates no
further. The WhatsApp template carries a link, never a value or a name."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.lab_alerts.support import (
    FakeScheduler,
    alert_settings,
    alerts,
    critical,
    ingest,
    served_gateway,
    without_times,
)
from tests.lab_alerts.ws import subscriber
from tests.messaging.fake_graph import serving_graph
from tests.notifications.receiver import running_webhook_receiver
from tests.notifications.support import subscribe
from tests.receiver import eventually, wait_for
from tests.support import Harness

ON_CALL = "+254700000999"
CLINICIAN = "+254711000111"
ROUTES = {"KNH_LAB": ["subscriptions", "whatsapp:ordering-clinician", f"whatsapp:{ON_CALL}"],
          "*": ["subscriptions"]}


async def _practitioner(h: Harness, provider_id: str, phone: str) -> None:
    r = await h.client.post("/api/fhir/Practitioner", json={
        "resourceType": "Practitioner", "active": True,
        "identifier": [{"system": "urn:knh:staff", "value": provider_id}],
        "name": [{"family": "Kamau", "given": ["Peter"]}],
        "telecom": [{"system": "email", "value": "pk@example.org"},
                    {"system": "phone", "value": phone, "use": "mobile"}]},
        headers={**h.auth("clinician"), "Content-Type": "application/fhir+json"})
    assert r.status_code == 201, r.text


def _link(accepted: Any) -> str:
    [body] = [c for c in accepted.body["template"]["components"] if c["type"] == "body"]
    return str(body["parameters"][0]["text"])


async def test_a_critical_result_reaches_endpoint_subscriber_and_escalates_by_route(
        tmp_path: Path, database_url: str) -> None:
    labs = alert_settings(routes=ROUTES, escalate_seconds=1.5, max_escalations=2)
    async with running_webhook_receiver() as receiver, serving_graph() as graph, \
            served_gateway(tmp_path, database_url, labs, graph=graph) as (h, url):
        endpoint = await subscribe(h, receiver.url("alerts"), ["lab.alert.raised"])
        await _practitioner(h, "DR7", "0711 000 111")  # national form, read as Kenyan
        async with subscriber(url, {"token": h.token("clinician")}, facility="KNH_LAB") as sub:
            kept = await ingest(h, critical("F1"))
            acked = await ingest(h, critical("F2", pid="K2"))
            by_result = {a["lab_result_id"]: a for a in await alerts(h)}
            kept_id = by_result[kept["lab_result_id"]]["id"]
            acked_id = by_result[acked["lab_result_id"]]["id"]

            # Raised: the endpoint (signed) and the live subscriber; WhatsApp not yet.
            hook = receiver.hook("alerts")
            await wait_for(lambda: len(hook.events()) >= 2 and len(sub.events) >= 2, timeout=10)
            assert all(hit.verifies_with(endpoint["secret"]) for hit in hook.ok_hits)
            assert {e["data"]["alert_id"] for e in hook.events()} == {kept_id, acked_id}
            assert not any("7.1" in without_times(hit.body) or b"WANJIRU" in hit.body
                           for hit in hook.ok_hits)
            assert graph.accepted == []
            delivered = {a["id"]: a["delivery_status"] for a in await alerts(h)}
            assert delivered == {kept_id: "delivered", acked_id: "delivered"}

            # First escalation: the ordering clinician on WhatsApp, a link and nothing else.
            await wait_for(lambda: len(graph.sent_to(CLINICIAN)) == 2, timeout=15)
            links = {_link(a) for a in graph.sent_to(CLINICIAN)}
            assert links == {f"https://cari.example/console/alerts#alert-{i}"
                             for i in (kept_id, acked_id)}
            assert {a.body["template"]["name"] for a in graph.accepted} == {
                "critical_lab_alert"}
            ack = await h.client.post(f"/api/lab/alerts/{acked_id}/acknowledge",
                                      headers=h.auth("clinician", sub="dr-kamau"))
            assert ack.status_code == 200, ack.text

            # Second escalation of the unacknowledged one only: the on-call number.
            await wait_for(lambda: graph.sent_to(ON_CALL), timeout=15)
            [to_on_call] = graph.sent_to(ON_CALL)
            assert _link(to_on_call).endswith(kept_id)
            await wait_for(lambda: len([e for e in sub.events if e["id"] == kept_id]) == 3,
                           timeout=10)
            assert sorted(e["escalationLevel"] for e in sub.events if e["id"] == kept_id) \
                == [0, 1, 2]
            await asyncio.sleep(3.5)  # past more escalate_after: acknowledged, capped
            assert len(graph.accepted) == 3
            levels = {a["id"]: a["escalation_level"] for a in await alerts(h)}
            assert levels == {kept_id: 2, acked_id: 1}
            for accepted in graph.accepted:
                assert "7.1" not in without_times(str(accepted.body))
                assert "WANJIRU" not in str(accepted.body).upper()


async def test_a_channel_that_reaches_nobody_hands_over_and_undelivered_is_counted(
        tmp_path: Path, sqlite_url: str) -> None:
    scheduler = FakeScheduler()
    # No endpoint subscribes and nobody recorded DR7's phone: the on-call number gets it.
    labs = alert_settings(routes={"*": ["subscriptions", "whatsapp:ordering-clinician",
                                        f"whatsapp:{ON_CALL}"]})
    async with served_gateway(tmp_path, sqlite_url, labs, scheduler=scheduler) as (h, _url):
        await ingest(h, critical("H1"))
        await wait_for(lambda: scheduler.requests, timeout=10)
        [request] = scheduler.requests.values()
        assert request.phone == ON_CALL
    # Nothing can reach anybody: undelivered, counted on /metrics.
    labs = alert_settings(routes={"*": ["subscriptions", "whatsapp:ordering-clinician"]})
    async with served_gateway(tmp_path / "2", sqlite_url.replace(".sqlite3", "2.sqlite3"),
                              labs, scheduler=FakeScheduler()) as (h, _url):
        await ingest(h, critical("H2"))

        async def status() -> str:
            return str((await alerts(h))[0]["delivery_status"])

        for _ in range(100):
            if await status() != "pending":
                break
            await asyncio.sleep(0.1)
        assert await status() == "undelivered"
        metrics = (await h.client.get("/metrics", headers=h.auth("admin"))).text
        assert "cari_lab_alerts_undelivered_total 1.0" in metrics


async def test_whatsapp_without_messaging_is_skipped_for_the_next_channel(
        tmp_path: Path, sqlite_url: str) -> None:
    """No CARI_WHATSAPP_*: the WhatsApp channel is not built; the route's webhook gets it."""
    async with running_webhook_receiver() as receiver:
        labs = alert_settings(routes={"*": [f"whatsapp:{ON_CALL}",
                                            f"webhook:{receiver.url('pager')}"]})
        async with served_gateway(tmp_path, sqlite_url, labs) as (h, _url):
            await ingest(h, critical("N1"))
            hook = receiver.hook("pager")
            await wait_for(lambda: hook.ok_hits, timeout=10)
            body = hook.ok_hits[0].json
            assert body["type"] == "lab.critical" and body["code"] == "2823-3"
            [alert] = await eventually(lambda: alerts(h),
                                       lambda got: got[0]["delivery_status"] != "pending")
            assert alert["delivery_status"] == "delivered"
