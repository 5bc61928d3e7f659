"""The same event delivered 20 times at once: one row, one job, one handler call; on SQLite
and on PostgreSQL (where the 20 inserts really run in parallel transactions)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from resolvers.webhooks.handlers import stripe_events
from tests.support import running_app
from tests.webhooks.conftest import webhook_settings
from tests.webhooks.helpers import Recorder, rows, settled
from tests.webhooks.signing import stripe_event, stripe_headers


@pytest.mark.db
async def test_twenty_concurrent_deliveries_store_and_apply_once(
        tmp_path: Path, database_url: str) -> None:
    recorder = Recorder()
    handlers = {"stripe": stripe_events({"payment_intent.succeeded": recorder})}
    async with running_app(webhook_settings(tmp_path, database_url),
                           extra_event_handlers=handlers) as h:
        raw = stripe_event(event_id="evt_storm")
        responses = await asyncio.gather(*(
            h.client.post("/api/webhooks/stripe", content=raw, headers=stripe_headers(raw))
            for _ in range(20)))
        assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
        acks = [r.json()["data"] for r in responses]
        assert len({a["id"] for a in acks}) == 1
        assert sum(not a["duplicate"] for a in acks) == 1
        await settled(h, acks[0]["id"], "processed")
        assert len(await rows(h, "webhook_events")) == 1
        jobs = [m for m in await rows(h, "outbox_messages") if m["destination"] == "inbox"]
        assert len(jobs) == 1
        await asyncio.sleep(0.2)  # a second, wrongly enqueued job would have run by now
        assert [c.event_id for c in recorder.calls] == ["evt_storm"]
