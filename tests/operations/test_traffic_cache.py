"""TrafficStats with a fake store and clock: buckets placed in the window, figures computed
once per window while fresh, day/week answered from the last figures and refreshed behind."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from resolvers.operations.traffic.records import TrafficBucket, Window
from resolvers.operations.traffic.stats import TrafficStats
from resolvers.principal import Caller, Principal

OPERATOR = Caller(Principal("op", frozenset({"admin"})))


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


class Store:
    def __init__(self, clock: Clock) -> None:
        self.calls = 0
        self.clock = clock

    async def buckets(self, since: datetime, width_seconds: int) -> list[TrafficBucket]:
        self.calls += 1
        current = int(self.clock.at.timestamp()) // width_seconds
        return [TrafficBucket("hl7-http", current, self.calls, 0, 0.0, 0),
                TrafficBucket("webhook:stripe", current, 4, 1, 100.0, 4),
                TrafficBucket("hl7-http", current - 10_000, 99, 0, 0.0, 0)]  # outside


async def test_figures_and_cache() -> None:
    clock = Clock()
    store = Store(clock)
    stats = TrafficStats(store, clock, cache_seconds=10)
    hour = await stats.overview(OPERATOR, Window.HOUR)
    channels = {c.channel: c for c in hour.channels}
    assert channels["hl7-http"].total == 1 and channels["hl7-http"].counts[-1] == 1
    hook = channels["webhook:stripe"]
    assert hook.error_rate == 0.25 and hook.latency_ms == 25.0 and hook.per_minute == 4 / 60
    assert [c.family for c in hour.channels] == ["hl7", "webhook"]
    await asyncio.sleep(0.01)
    assert store.calls == 3  # the day and the week computed behind the hour, once each
    assert await stats.overview(OPERATOR, Window.HOUR) is hour and store.calls == 3
    clock.at += timedelta(seconds=11)
    assert (await stats.overview(OPERATOR, Window.HOUR)).channels[0].total == 4  # in line

    week = await stats.overview(OPERATOR, Window.WEEK)
    assert store.calls == 4  # the week's figures were there already
    calls = store.calls
    clock.at += timedelta(seconds=61)
    assert await stats.overview(OPERATOR, Window.WEEK) is week  # the last figures at once
    await asyncio.sleep(0.01)
    assert store.calls == calls + 1  # refreshed behind the answer, once
    fresh = await stats.overview(OPERATOR, Window.WEEK)
    assert fresh is not week and fresh.channels[0].total == calls + 1
