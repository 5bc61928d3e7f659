"""Delivery over time (SQLite and PostgreSQL), with the retry schedule scaled down to
fractions of a second: an outage that outlasts several attempts loses nothing, an endpoint
that keeps failing is disabled and announced, a 410 disables at once, a rotation drops
nothing, a crash between claiming and sending loses nothing, and replays send again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.db.engine import create_engine
from adapters.settings.webhooks_out import WebhookOutSettings
from composition import build_worker, open_gateway
from resolvers.principal import Caller, Principal
from tests.notifications.receiver import running_webhook_receiver
from tests.notifications.schemas import assert_valid
from tests.notifications.support import BASE, deliveries, settled, subscribe, webhook_app
from tests.receiver import wait_for
from tests.support import Harness, make_settings

SLOW_SCHEDULE = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)  # seven attempts over 3.15 s


async def _test_event(h: Harness, endpoint_id: str) -> str:
    r = await h.client.post(f"{BASE}/{endpoint_id}/test", headers=h.auth("integrator"))
    assert r.status_code == 202, r.text
    event_id: str = r.json()["data"]["event_id"]
    return event_id


async def test_an_outage_longer_than_several_attempts_loses_nothing(
        tmp_path: Path, database_url: str) -> None:
    async with running_webhook_receiver() as receiver, \
            webhook_app(tmp_path, database_url, retry_schedule=SLOW_SCHEDULE) as h:
        made = await subscribe(h, receiver.url("down"))
        hook = receiver.hook("down")
        hook.always = 503  # the receiver is down ...
        sent = [await _test_event(h, made["id"]) for _ in range(3)]
        await wait_for(lambda: len(hook.hits) >= 9, timeout=10)  # three attempts each
        hook.always = None  # ... and comes back
        log = await settled(h, made["id"], 3)
        assert sorted(e["id"] for e in hook.events()) == sorted(sent)
        assert all(hit.verifies_with(made["secret"]) for hit in hook.ok_hits)
        assert all(d["attempts"] >= 3 for d in log)
        # One webhook-id per event over every attempt: a consumer dedupes on it.
        assert {hit.headers["webhook-id"] for hit in hook.hits} == set(sent)
        detail = await h.client.get(f"{BASE}/{made['id']}/deliveries/{log[0]['id']}",
                                    headers=h.auth("integrator"))
        codes = [a["status_code"] for a in detail.json()["data"]["attempt_log"]]
        assert codes[-1] == 200 and set(codes[:-1]) == {503}
        endpoint = (await h.client.get(f"{BASE}/{made['id']}",
                                       headers=h.auth("integrator"))).json()["data"]
        assert endpoint["enabled"] is True and endpoint["failing_since"] is None


async def test_an_endpoint_that_keeps_failing_is_disabled_and_announced(
        tmp_path: Path, database_url: str) -> None:
    async with running_webhook_receiver() as receiver, \
            webhook_app(tmp_path, database_url, retry_schedule=SLOW_SCHEDULE,
                        disable_after_seconds=0.3) as h:
        dead = await subscribe(h, receiver.url("dead"))
        watcher = await subscribe(h, receiver.url("watcher"), ["webhook.endpoint.disabled"])
        receiver.hook("dead").always = 500
        await _test_event(h, dead["id"])
        await wait_for(lambda: receiver.hook("watcher").events(), timeout=10)
        announced = receiver.hook("watcher").events()[0]
        assert announced["type"] == "webhook.endpoint.disabled"
        assert announced["data"]["endpoint_id"] == dead["id"]
        assert "every attempt failed since" in announced["data"]["reason"]
        assert_valid(announced)
        assert receiver.hook("watcher").ok_hits[0].verifies_with(watcher["secret"])
        got = (await h.client.get(f"{BASE}/{dead['id']}",
                                  headers=h.auth("integrator"))).json()["data"]
        assert got["enabled"] is False and got["disabled_reason"].startswith("every attempt")
        [log] = await deliveries(h, dead["id"])
        assert log["status"] == "failed" and log["last_status_code"] == 500
        attempts = len(receiver.hook("dead").hits)
        await _test_event(h, dead["id"])  # disabled: logged as skipped, nothing sent
        await settled(h, dead["id"], 1, status="skipped")
        assert len(receiver.hook("dead").hits) == attempts


async def test_410_gone_disables_at_once(tmp_path: Path, sqlite_url: str) -> None:
    async with running_webhook_receiver() as receiver, webhook_app(tmp_path, sqlite_url) as h:
        made = await subscribe(h, receiver.url("gone"))
        receiver.hook("gone").always = 410
        await _test_event(h, made["id"])
        [log] = await settled(h, made["id"], 1, status="failed")
        assert log["attempts"] == 1 and log["last_status_code"] == 410
        got = (await h.client.get(f"{BASE}/{made['id']}",
                                  headers=h.auth("integrator"))).json()["data"]
        assert got["enabled"] is False and "410" in got["disabled_reason"]


async def test_replay_one_and_everything_since(tmp_path: Path, database_url: str) -> None:
    async with running_webhook_receiver() as receiver, \
            webhook_app(tmp_path, database_url, retry_schedule=(0.05,)) as h:
        made = await subscribe(h, receiver.url("flaky"))
        auth = h.auth("integrator")
        hook = receiver.hook("flaky")
        hook.always = 500
        before = datetime.now(UTC) - timedelta(seconds=1)
        first, second = await _test_event(h, made["id"]), await _test_event(h, made["id"])
        exhausted = await settled(h, made["id"], 2, status="exhausted")
        assert all(d["attempts"] == 2 for d in exhausted)
        hook.always = None
        one = next(d for d in exhausted if d["event_id"] == first)
        r = await h.client.post(f"{BASE}/{made['id']}/deliveries/{one['id']}/replay",
                                headers=auth)
        assert r.status_code == 202, r.text
        await wait_for(lambda: [e["id"] for e in hook.events()] == [first])
        # The receiver has it before the worker records the success: wait for the record.
        await settled(h, made["id"], 1)
        # Filters of the log: status and event type.
        ok = await deliveries(h, made["id"], status="succeeded", event_type="webhook.test")
        assert [d["event_id"] for d in ok] == [first]

        # Events while the endpoint is disabled are skipped, then replayed "since".
        await h.client.post(f"{BASE}/{made['id']}/disable", headers=auth)
        third = await _test_event(h, made["id"])
        await settled(h, made["id"], 1, status="skipped")
        await h.client.post(f"{BASE}/{made['id']}/enable", headers=auth)
        r = await h.client.post(f"{BASE}/{made['id']}/replay", headers=auth,
                                json={"since": before.isoformat()})
        assert r.status_code == 202 and r.json()["data"]["replayed"] == 2  # not the succeeded
        await settled(h, made["id"], 3)
        assert sorted(e["id"] for e in hook.events()) == sorted([first, second, third])
        assert all(hit.verifies_with(made["secret"]) for hit in hook.ok_hits)
        nothing = await h.client.post(f"{BASE}/{made['id']}/replay", headers=auth,
                                      json={"since": before.isoformat()})
        assert nothing.json()["data"]["replayed"] == 0
        bad = await h.client.post(f"{BASE}/{made['id']}/replay", headers=auth,
                                  json={"since": "yesterday"})
        assert bad.status_code == 422


async def test_a_secret_rotation_drops_nothing(tmp_path: Path, database_url: str) -> None:
    async with running_webhook_receiver() as receiver, \
            webhook_app(tmp_path, database_url, rotation_grace_seconds=1.5) as h:
        made = await subscribe(h, receiver.url("rot"))
        old = made["secret"]
        r = await h.client.post(f"{BASE}/{made['id']}/rotate-secret",
                                headers=h.auth("integrator"))
        assert r.status_code == 200
        new = r.json()["data"]["secret"]
        assert new != old and new.startswith("whsec_")
        assert r.json()["data"]["previous_secret_expires_at"] is not None
        hook = receiver.hook("rot")
        await _test_event(h, made["id"])
        await settled(h, made["id"], 1)
        during = hook.ok_hits[0]
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        # A consumer still on the old secret and one already on the new both verify.
        assert during.verifies_with(old) and during.verifies_with(new)
        await asyncio.sleep(1.6)  # the grace period ends
        await _test_event(h, made["id"])
        await settled(h, made["id"], 2)
        after = hook.ok_hits[1]
        assert after.verifies_with(new) and not after.verifies_with(old)


async def test_a_crash_between_claiming_and_sending_loses_nothing(
        tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path / "var", database_url, outbound_allowlist=("127.0.0.1",),
                             outbox_worker=False, outbox_lease_seconds=0.4,
                             webhooks_out=WebhookOutSettings(retry_schedule=(0.05,)))
    engine = create_engine(settings.database_url)
    admin = Caller(Principal("ops", frozenset({"admin"})))
    try:
        async with running_webhook_receiver() as receiver, \
                open_gateway(settings, engine) as gateway:
            made = await gateway.services.notifications.endpoints.create(
                admin, url=receiver.url("c"), event_types=["*"], resource_types=[],
                description="")
            await gateway.services.notifications.endpoints.send_test(admin, made.endpoint.id)
            worker = build_worker(settings, gateway.outbox_store, gateway.delivery_handlers)
            assert await worker.run_once() == 1  # the fan-out: one delivery queued
            now = datetime.now(UTC)
            crashed = await gateway.outbox_store.claim_due(
                now=now, limit=10, lease_until=now + timedelta(seconds=0.4),
                claim_token="crashed-worker")
            assert [m.destination for m in crashed] == ["webhook_delivery"]
            # ... and that worker dies here, before sending.
            assert await worker.run_once() == 0  # leased: nobody else takes it yet
            assert receiver.hook("c").hits == []
            await asyncio.sleep(0.45)
            assert await worker.run_once() == 1  # the lease ran out: another worker sends
            [hit] = receiver.hook("c").hits
            assert hit.verifies_with(made.secret)
            assert (await gateway.outbox_store.counts())["delivered"] == 2
    finally:
        await engine.dispose()
