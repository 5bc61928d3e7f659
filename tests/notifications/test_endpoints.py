"""Managing webhook endpoints over REST (SQLite and PostgreSQL): the secret shown once, the
filters checked against the catalogue, the URL against the outbound guard, roles, paging,
and a test event signed and delivered to a real receiver that verifies it with svix."""

from __future__ import annotations

from pathlib import Path

from tests.notifications.receiver import running_webhook_receiver
from tests.notifications.schemas import assert_valid
from tests.notifications.support import BASE, settled, subscribe, webhook_app


async def test_endpoint_lifecycle_and_a_signed_test_event(tmp_path: Path,
                                                          database_url: str) -> None:
    async with running_webhook_receiver() as receiver, \
            webhook_app(tmp_path, database_url) as h:
        made = await subscribe(h, receiver.url("a"), ["lab.*", "fhir.resource.*"],
                               resource_types=["Observation"], description="LIS bridge")
        secret = made["secret"]
        assert secret.startswith("whsec_")
        assert made["event_types"] == ["lab.*", "fhir.resource.*"]
        auth = h.auth("integrator")

        got = await h.client.get(f"{BASE}/{made['id']}", headers=auth)
        assert got.status_code == 200
        assert "secret" not in got.json()["data"]
        listed = await h.client.get(BASE, headers=auth)
        assert all("secret" not in e for e in listed.json()["data"]["items"])
        assert secret not in got.text + listed.text

        patched = await h.client.patch(f"{BASE}/{made['id']}", headers=auth, json={
            "event_types": ["lab.alert.raised"], "description": "alerts only"})
        assert patched.status_code == 200, patched.text
        assert patched.json()["data"]["event_types"] == ["lab.alert.raised"]
        assert patched.json()["data"]["resource_types"] == ["Observation"]

        test = await h.client.post(f"{BASE}/{made['id']}/test", headers=auth)
        assert test.status_code == 202, test.text
        event_id = test.json()["data"]["event_id"]
        log = await settled(h, made["id"], 1)
        assert log[0]["event_type"] == "webhook.test" and log[0]["attempts"] == 1
        hit = receiver.hook("a").ok_hits[0]
        assert hit.verifies_with(secret)
        assert hit.headers["webhook-id"] == event_id
        assert hit.json["type"] == "webhook.test"
        assert_valid(hit.json)
        assert hit.json["data"] == {"endpoint_id": made["id"],
                                    "message": "a test event sent on request"}

        detail = await h.client.get(f"{BASE}/{made['id']}/deliveries/{log[0]['id']}",
                                    headers=auth)
        attempt = detail.json()["data"]["attempt_log"][0]
        assert attempt["status_code"] == 200 and attempt["duration_ms"] > 0
        assert 0 < len(attempt["response_excerpt"]) <= 1000  # the receiver answers 3 KB

        off = await h.client.post(f"{BASE}/{made['id']}/disable", headers=auth)
        assert off.json()["data"]["enabled"] is False
        on = await h.client.post(f"{BASE}/{made['id']}/enable", headers=auth)
        assert on.json()["data"]["enabled"] is True

        gone = await h.client.delete(f"{BASE}/{made['id']}", headers=auth)
        assert gone.status_code == 200
        assert (await h.client.get(f"{BASE}/{made['id']}", headers=auth)).status_code == 404
        assert (await h.client.delete(f"{BASE}/{made['id']}", headers=auth)).status_code == 404


async def test_refusals(tmp_path: Path, sqlite_url: str) -> None:
    async with webhook_app(tmp_path, sqlite_url) as h:
        auth = h.auth("integrator")
        cases = [
            ({"url": "https://hooks.example.org/x", "event_types": ["lab.result.made"]},
             "event_types"),
            ({"url": "https://hooks.example.org/x", "event_types": ["nothing.*"]},
             "event_types"),
            ({"url": "https://hooks.example.org/x", "event_types": ["*"],
              "resource_types": ["observation"]}, "resource_types"),
            ({"url": "http://203.0.113.9/hook", "event_types": ["*"]}, "url"),  # http
            ({"url": "https://169.254.169.254/latest", "event_types": ["*"]}, "url"),
            ({"url": "https://10.1.2.3/hook", "event_types": ["*"]}, "url"),
            ({"url": "ftp://127.0.0.1/hook", "event_types": ["*"]}, "url"),
        ]
        for body, field in cases:
            r = await h.client.post(BASE, json=body, headers=auth)
            assert r.status_code == 422, (body, r.text)
            assert field in r.text, r.text
        refused = await h.client.post(BASE, json={"url": "https://hooks.example.org/x",
                                                  "event_types": ["*"]},
                                      headers=h.auth("clinician"))
        assert refused.status_code == 403
        listed = await h.client.get(BASE, headers=h.auth("admin"))
        assert listed.json()["data"]["items"] == []


async def test_paging(tmp_path: Path, sqlite_url: str) -> None:
    async with running_webhook_receiver() as receiver, webhook_app(tmp_path, sqlite_url) as h:
        made = [await subscribe(h, receiver.url(f"p{i}")) for i in range(5)]
        seen: list[str] = []
        cursor = ""
        while True:
            r = await h.client.get(BASE, params={"limit": "2", "cursor": cursor},
                                   headers=h.auth("admin"))
            page = r.json()["data"]
            seen += [e["id"] for e in page["items"]]
            if not page["next_cursor"]:
                break
            cursor = page["next_cursor"]
        assert seen == [m["id"] for m in made]


async def test_event_types_are_served_with_their_schemas(tmp_path: Path,
                                                         sqlite_url: str) -> None:
    async with webhook_app(tmp_path, sqlite_url) as h:
        r = await h.client.get("/api/webhooks/event-types", headers=h.auth("clinician"))
        assert r.status_code == 200
        types = {t["type"]: t for t in r.json()["data"]["items"]}
        assert "lab.alert.raised" in types and "fhir.resource.deleted" in types
        assert types["fhir.resource.created"]["filterable_by_resource_type"] is True
        schema = types["lab.alert.raised"]["schema"]
        assert schema["properties"]["type"] == {"const": "lab.alert.raised"}
        assert "value" not in schema["properties"]["data"]["properties"]
