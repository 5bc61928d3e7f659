"""Outbox end to end: a patient write is delivered to a real HTTP endpoint, with retries,
dead letters, replay over REST and GraphQL, and an allow-list that refuses loopback.

The destination is an outbox handler added the way a deployment adds one (``extra_handlers``
with the patient events routed to it): CARI_EVENT_WEBHOOK_URL is now a webhook subscription
of its own, tested in tests/notifications/test_settings_endpoint.py."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.outbox.webhook import EVENT_WEBHOOK, WebhookDelivery
from adapters.settings import Settings
from tests.receiver import eventually, running_receiver, wait_for
from tests.support import Harness, make_settings, running_app


def _settings(tmp_path: Path, database_url: str, url: str, **over: Any) -> Settings:
    return make_settings(tmp_path / "var", database_url, outbound_allowlist=("127.0.0.1",),
                         outbox_backoff_base_seconds=0.05, outbox_backoff_max_seconds=0.2,
                         outbox_max_attempts=3, **over)


@contextlib.asynccontextmanager
async def _app(settings: Settings, url: str) -> AsyncIterator[Harness]:
    """The gateway with an HTTP destination of every patient event at ``url``."""
    def handlers(client: httpx.AsyncClient) -> dict[str, WebhookDelivery]:
        return {EVENT_WEBHOOK: WebhookDelivery(client, url)}

    async with running_app(settings, extra_handlers=handlers,
                           extra_subscriptions={EVENT_WEBHOOK: ["*"]}) as h:
        yield h


async def _outbox(h: Harness, status: str) -> list[dict]:
    """The event webhook's messages (writes also queue webhook-subscription events)."""
    r = await h.client.get(f"/api/admin/outbox?status={status}&destination=event_webhook",
                           headers=h.auth("admin"))
    assert r.status_code == 200
    return r.json()["data"]["items"]


@pytest.mark.db
async def test_patient_write_reaches_the_destination_with_idempotency_key(
    tmp_path: Path, database_url: str
) -> None:
    async with running_receiver() as receiver:
        receiver.fail_next = 2  # an outage: two 503s, then it recovers
        async with _app(_settings(tmp_path, database_url, receiver.url), receiver.url) as h:
            p = await h.create_patient()
            await wait_for(lambda: len(receiver.accepted) == 1)
            key = f"patient.created:{p['id']}:1"
            assert [a["key"] for a in receiver.attempts] == [key] * 3
            body = receiver.accepted[key]
            assert body["type"] == "patient.created" and body["data"]["id"] == p["id"]
            assert receiver.attempts[0]["headers"]["x-cari-event-type"] == "patient.created"
            delivered = await eventually(lambda: _outbox(h, "delivered"), bool)
            assert [(m["idempotency_key"], m["attempts"]) for m in delivered] == [(key, 3)]


async def test_dead_letter_then_replay_over_rest_and_graphql(tmp_path: Path, sqlite_url: str) -> None:
    async with running_receiver() as receiver:
        receiver.fail_next = 100
        async with _app(_settings(tmp_path, sqlite_url, receiver.url), receiver.url) as h:
            first = await h.create_patient()
            await wait_for(lambda: len(receiver.attempts) >= 3)
            dead = await eventually(lambda: _outbox(h, "dead"), bool)
            assert "503" in dead[0]["last_error"]
            assert len(receiver.attempts) == 3  # max attempts, then it stops trying

            receiver.fail_next = 0
            r = await h.client.post(f"/api/admin/outbox/{dead[0]['id']}/replay",
                                    headers=h.auth("admin"))
            assert r.json()["data"] == {"replayed": 1}
            await wait_for(lambda: len(receiver.accepted) == 1)
            assert list(receiver.accepted) == [f"patient.created:{first['id']}:1"]

            # Second dead letter, replayed through GraphQL this time.
            receiver.fail_next = 100
            await h.create_patient()
            await eventually(lambda: _outbox(h, "dead"), bool)
            receiver.fail_next = 0
            body = await h.gql("mutation { replayDeadLetters { replayed } }")
            assert body["data"]["replayDeadLetters"]["replayed"] == 1
            await wait_for(lambda: len(receiver.accepted) == 2)
            forbidden = await h.client.post("/api/admin/outbox/replay", json={},
                                            headers=h.auth("clinician"))
            assert forbidden.status_code == 403


async def test_loopback_destination_is_refused_without_allowlist(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_receiver() as receiver:
        settings = make_settings(tmp_path / "var", sqlite_url)
        async with _app(settings, receiver.url) as h:
            await h.create_patient()
            dead = await eventually(lambda: _outbox(h, "dead"), bool)
            assert "allow" in dead[0]["last_error"].lower()
            assert receiver.attempts == []  # nothing left the gateway


async def test_4xx_from_destination_dead_letters_at_once(tmp_path: Path, sqlite_url: str) -> None:
    async with running_receiver() as receiver:
        receiver.fail_next, receiver.fail_status = 1, 422
        async with _app(_settings(tmp_path, sqlite_url, receiver.url), receiver.url) as h:
            await h.create_patient()
            await wait_for(lambda: len(receiver.attempts) == 1)
            dead = await eventually(lambda: _outbox(h, "dead"), bool)
            assert dead[0]["attempts"] == 1 and "422" in dead[0]["last_error"]
