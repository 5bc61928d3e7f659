"""Every webhook management call leaves an audit record naming the endpoint (no patient)."""

from __future__ import annotations

from pathlib import Path

from tests.notifications.receiver import running_webhook_receiver
from tests.notifications.support import BASE, subscribe, webhook_app


async def test_management_calls_are_audited(tmp_path: Path, sqlite_url: str) -> None:
    async with running_webhook_receiver() as receiver, webhook_app(tmp_path, sqlite_url) as h:
        made = await subscribe(h, receiver.url("a"))
        auth = h.auth("integrator", sub="integrator-7")
        calls = [("GET", f"{BASE}/{made['id']}", None, "R"),
                 ("PATCH", f"{BASE}/{made['id']}", {"description": "x"}, "U"),
                 ("POST", f"{BASE}/{made['id']}/rotate-secret", None, "U"),
                 ("GET", f"{BASE}/{made['id']}/deliveries", None, "R"),
                 ("POST", f"{BASE}/{made['id']}/replay", {"since": "2026-01-01T00:00:00Z"}, "E"),
                 ("DELETE", f"{BASE}/{made['id']}", None, "D"),
                 ("GET", f"{BASE}/{made['id']}", None, "R")]
        for method, path, body, action in calls:
            r = await h.client.request(method, path, json=body, headers=auth)
            request_id = r.headers["x-request-id"]
            audit = await h.client.get("/api/admin/audit-events", params={
                "subject": "integrator-7", "resource_type": "WebhookEndpoint", "limit": "200"},
                headers=h.auth("admin"))
            records = [x for x in audit.json()["data"]["items"]
                       if x["request_id"] == request_id]
            assert [(x["resource_type"], x["resource_id"], x["action"], x["subject"],
                     x["patient_id"]) for x in records] == [
                ("WebhookEndpoint", made["id"], action, "integrator-7", None)], (path, records)
            if r.status_code == 404:
                assert records[0]["outcome"] == "not_found"
