"""The failures page over HTTP: outbox dead letters are listed and replayed by an admin
(htmx partial), an integrator is told they need the admin role, and a replay is audited as
the use case records it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from adapters.outbox.webhook import EVENT_WEBHOOK, WebhookDelivery
from tests.console.http_support import csrf_of, page_csrf, sign_in
from tests.notifications.receiver import running_webhook_receiver
from tests.notifications.support import BASE, settled, subscribe, webhook_app
from tests.receiver import eventually, running_receiver, wait_for
from tests.support import make_settings, running_app


async def test_dead_letters_are_replayed_from_the_page(tmp_path: Path, sqlite_url: str) -> None:
    async with running_receiver() as receiver:
        receiver.fail_next = 100

        def handlers(client: httpx.AsyncClient) -> dict[str, WebhookDelivery]:
            return {EVENT_WEBHOOK: WebhookDelivery(client, receiver.url)}

        settings = make_settings(tmp_path / "var", sqlite_url, outbound_allowlist=("127.0.0.1",),
                                 outbox_backoff_base_seconds=0.05,
                                 outbox_backoff_max_seconds=0.1, outbox_max_attempts=2)
        async with running_app(settings, extra_handlers=handlers,
                               extra_subscriptions={EVENT_WEBHOOK: ["*"]}) as gateway:
            await gateway.create_patient()

            async def dead() -> list[dict[str, object]]:
                r = await gateway.client.get(
                    "/api/admin/outbox?status=dead&destination=event_webhook",
                    headers=gateway.auth("admin"))
                items: list[dict[str, object]] = r.json()["data"]["items"]
                return items

            letters = await eventually(dead, bool)
            await sign_in(gateway, "admin")
            page = await gateway.client.get("/console/failures")
            assert page.status_code == 200
            assert f'value="{letters[0]["id"]}"' in page.text and "event_webhook" in page.text
            assert "503" in page.text  # the last error

            receiver.fail_next = 0
            token = await page_csrf(gateway, "/console/failures")
            replayed = await gateway.client.post(
                "/console/failures/outbox/replay", data={"message_id": letters[0]["id"]},
                headers={"X-CSRF-Token": token, "HX-Request": "true"})
            assert replayed.status_code == 200
            assert "1 dead letters queued again" in replayed.text
            assert replayed.text.lstrip().startswith('<section')  # the partial, not a page
            await wait_for(lambda: len(receiver.accepted) == 1)
            assert await eventually(dead, lambda found: not found) == []

            # Without htmx the form posts and comes back to the page.
            plain = await gateway.client.post("/console/failures/outbox/replay",
                                              data={"csrf_token": token})
            assert plain.status_code == 303 and plain.headers["location"] == "/console/failures"

            gateway.client.cookies.clear()
            await sign_in(gateway, "integrator")
            page = await gateway.client.get("/console/failures")
            assert "needs the admin role" in page.text
            token = await page_csrf(gateway, "/console/failures")
            refused = await gateway.client.post(
                "/console/failures/outbox/replay", data={"message_id": "x"},
                headers={"X-CSRF-Token": token, "HX-Request": "true"})
            assert refused.status_code == 200 and "needs the admin role" in refused.text


@pytest.mark.db
async def test_failed_deliveries_are_listed_and_replayed_on_each_database(
        tmp_path: Path, database_url: str) -> None:
    async with running_webhook_receiver() as receiver, \
            webhook_app(tmp_path, database_url, retry_schedule=(0.05,)) as gateway:
        hook = receiver.hook("down")
        hook.always = 502
        made = await subscribe(gateway, receiver.url("down"))
        sent = await gateway.client.post(f"{BASE}/{made['id']}/test",
                                         headers=gateway.auth("integrator"))
        assert sent.status_code == 202
        exhausted = await settled(gateway, made["id"], 1, status="exhausted")
        await sign_in(gateway, "integrator")
        page = await gateway.client.get("/console/failures")
        value = f'{made["id"]}:{exhausted[0]["id"]}'
        assert f'value="{value}"' in page.text and "HTTP 502" in page.text
        hook.always = None
        replayed = await gateway.client.post(
            "/console/failures/deliveries/replay", data={"delivery": value},
            headers={"X-CSRF-Token": csrf_of(page.text), "HX-Request": "true"})
        assert "1 deliveries queued again (0 already" in replayed.text
        await settled(gateway, made["id"], 1, status="succeeded")
        assert len(hook.events("webhook.test")) == 1
        # The read was audited once for the endpoints it names, with surface console.
        audit = await gateway.client.get("/api/admin/audit-events?resource_type=WebhookEndpoint&limit=200",
                                         headers=gateway.auth("admin"))
        assert audit.status_code == 200, audit.text
        surfaces = {e.get("surface") for e in audit.json()["data"]["items"]}
        assert "console" in surfaces
