"""CARI_EVENT_WEBHOOK_URL as a subscription (SQLite and PostgreSQL): one endpoint to every
event, made at the first start and kept over restarts, signed with CARI_EVENT_WEBHOOK_SECRET."""

from __future__ import annotations

from pathlib import Path

from tests.notifications.receiver import running_webhook_receiver
from tests.notifications.support import BASE, webhook_app
from tests.receiver import wait_for

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def test_the_settings_url_is_one_signed_subscription(tmp_path: Path,
                                                           database_url: str) -> None:
    async with running_webhook_receiver() as receiver:
        url = receiver.url("settings")
        for start in range(2):  # a restart finds the endpoint it made
            async with webhook_app(tmp_path, database_url, event_webhook_secret=SECRET,
                                   settings_changes={"event_webhook_url": url}) as h:
                listed = (await h.client.get(BASE, headers=h.auth("admin"))).json()["data"]
                assert [(e["id"], e["url"], e["event_types"], e["managed_by_settings"])
                        for e in listed["items"]] == [
                    ("event-webhook-from-settings", url, ["*"], True)]
                patient = await h.create_patient()
                hook, wanted = receiver.hook("settings"), start + 1
                await wait_for(lambda h=hook, n=wanted: len(h.events()) == n, timeout=10)
                event = hook.events()[-1]
                assert event["type"] == "fhir.resource.created"
                assert event["data"]["resource_id"] == patient["id"]
                assert hook.ok_hits[-1].verifies_with(SECRET)


async def test_without_a_secret_one_is_generated_rotated_to_read_and_kept(
        tmp_path: Path, sqlite_url: str) -> None:
    async with running_webhook_receiver() as receiver:
        url = receiver.url("generated")
        hook = receiver.hook("generated")
        async with webhook_app(tmp_path, sqlite_url,
                               settings_changes={"event_webhook_url": url}) as h:
            r = await h.client.post(f"{BASE}/event-webhook-from-settings/rotate-secret",
                                    headers=h.auth("admin"))
            secret = r.json()["data"]["secret"]
        async with webhook_app(tmp_path, sqlite_url,
                               settings_changes={"event_webhook_url": url}) as h:
            r = await h.client.post(f"{BASE}/event-webhook-from-settings/test",
                                    headers=h.auth("admin"))
            assert r.status_code == 202
            await wait_for(lambda: len(hook.ok_hits) == 1, timeout=10)
            assert hook.ok_hits[0].verifies_with(secret)  # the restart kept it
