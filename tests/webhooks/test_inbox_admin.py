"""Processing failures, retries, dead letters and replay; the admin inbox over REST and GraphQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from resolvers.webhooks.handlers import stripe_events
from resolvers.webhooks.model import PermanentEventError
from tests.support import Harness, running_app
from tests.webhooks.conftest import webhook_settings
from tests.webhooks.helpers import Recorder, inbox, rows, settled
from tests.webhooks.signing import lead_body, lead_headers, stripe_event, stripe_headers

EVENTS_QUERY = """query($provider: String, $status: WebhookEventStatus) {
  webhookEvents(provider: $provider, status: $status, first: 10) {
    nodes { id provider eventId eventType status attempts lastError }
    pageInfo { hasNextPage endCursor } } }"""
REPLAY = """mutation($id: ID!) { replayWebhookEvent(id: $id) {
  __typename ... on WebhookEvent { id status } ... on UserError { code message } } }"""


async def _deliver(h: Harness, event_id: str) -> str:
    raw = stripe_event(event_id=event_id)
    r = await h.client.post("/api/webhooks/stripe", content=raw, headers=stripe_headers(raw))
    assert r.status_code == 200, r.text
    ack: str = r.json()["data"]["id"]
    return ack


async def test_failing_handler_is_retried_then_dead_then_replayed(
        tmp_path: Path, sqlite_url: str) -> None:
    recorder = Recorder(fail_times=4)  # 3 attempts (max) fail; the replays: one fails, one works
    handlers = {"stripe": stripe_events({"payment_intent.succeeded": recorder})}
    async with running_app(webhook_settings(tmp_path, sqlite_url),
                           extra_event_handlers=handlers) as h:
        event_id = await _deliver(h, "evt_fails")
        dead = await settled(h, event_id, "dead")
        assert dead["attempts"] == 3 and "downstream unavailable" in dead["last_error"]
        assert len(recorder.calls) == 3

        # Replay over REST: a new job from attempt one; this attempt still fails once.
        r = await h.client.post(f"/api/webhooks/events/{event_id}/replay",
                                headers=h.auth("admin"))
        assert r.status_code == 200 and r.json()["data"]["status"] == "received"
        again = await settled(h, event_id, "processed", "dead")
        assert again["status"] == "processed", again
        assert again["attempts"] == 5 and again["last_error"] is None
        assert len(recorder.calls) == 5

        # Replay over GraphQL re-processes even a processed event.
        body = await h.gql(REPLAY, {"id": event_id})
        assert body["data"]["replayWebhookEvent"] == {"__typename": "WebhookEvent",
                                                      "id": event_id, "status": "RECEIVED"}
        await settled(h, event_id, "processed")
        await asyncio.sleep(0)
        assert len(recorder.calls) == 6
        jobs = [m for m in await rows(h, "outbox_messages") if m["destination"] == "inbox"]
        assert len(jobs) == 3 and len({m["idempotency_key"] for m in jobs}) == 3


async def test_permanent_error_dead_letters_at_once(tmp_path: Path, sqlite_url: str) -> None:
    recorder = Recorder(fail_times=1, error=PermanentEventError("amount does not match"))
    handlers = {"stripe": stripe_events({"payment_intent.succeeded": recorder})}
    async with running_app(webhook_settings(tmp_path, sqlite_url),
                           extra_event_handlers=handlers) as h:
        event_id = await _deliver(h, "evt_permanent")
        dead = await settled(h, event_id, "dead")
        assert dead["attempts"] == 1 and "amount does not match" in dead["last_error"]
        outbox = await h.client.get("/api/admin/outbox?status=dead", headers=h.auth("admin"))
        assert len(outbox.json()["data"]["items"]) == 1
        assert len(recorder.calls) == 1


async def test_admin_list_filters_paging_and_access(hooks: Harness) -> None:
    first = await _deliver(hooks, "evt_a")
    second = await _deliver(hooks, "evt_b")
    raw = lead_body()
    r = await hooks.client.post("/api/gtm/webhooks/inbound", content=raw,
                                headers=lead_headers(raw))
    lead = r.json()["data"]["id"]
    await settled(hooks, lead, "processed")
    await settled(hooks, first, "ignored")
    await settled(hooks, second, "ignored")

    assert [e["id"] for e in await inbox(hooks)] == [lead, second, first]  # newest first
    assert [e["id"] for e in await inbox(hooks, provider="stripe")] == [second, first]
    assert [e["id"] for e in await inbox(hooks, status="processed")] == [lead]
    page = await hooks.client.get("/api/webhooks/events?limit=2", headers=hooks.auth("admin"))
    cursor = page.json()["data"]["next_cursor"]
    assert cursor == second
    rest = await inbox(hooks, cursor=cursor, limit="2")
    assert [e["id"] for e in rest] == [first]
    bad = await hooks.client.get("/api/webhooks/events?status=done", headers=hooks.auth("admin"))
    assert bad.status_code == 422

    for path, method in (("/api/webhooks/events", "GET"), (f"/api/webhooks/events/{first}", "GET"),
                         (f"/api/webhooks/events/{first}/replay", "POST")):
        anonymous = await hooks.client.request(method, path)
        assert anonymous.status_code == 401, path
        clinician = await hooks.client.request(method, path, headers=hooks.auth("clinician"))
        assert clinician.status_code == 403, path
    missing = await hooks.client.post("/api/webhooks/events/nope/replay",
                                      headers=hooks.auth("admin"))
    assert missing.status_code == 404
    assert (await hooks.client.get("/api/webhooks/events/nope",
                                   headers=hooks.auth("admin"))).status_code == 404

    body = await hooks.gql(EVENTS_QUERY, {"provider": "stripe", "status": "IGNORED"})
    nodes = body["data"]["webhookEvents"]["nodes"]
    assert [(n["eventId"], n["status"]) for n in nodes] == [("evt_b", "IGNORED"),
                                                            ("evt_a", "IGNORED")]
    denied = await hooks.gql(EVENTS_QUERY, roles=("clinician",))
    assert denied["data"] is None and "roles" in denied["errors"][0]["message"]
    not_found = await hooks.gql(REPLAY, {"id": "nope"})
    assert not_found["data"]["replayWebhookEvent"]["__typename"] == "NotFoundError"
