"""The overview's use case: traffic per channel over the last hour, day or week.

Counts come from the timestamps intake and delivery already store (bucketed in SQL), so the
overview adds no write anywhere. A short cache keeps a console left open on the overview
from re-reading a week of rows every few seconds; the day and week figures, once computed,
are answered at once and refreshed in the background when due.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from resolvers.clock import Clock
from resolvers.operations.traffic.records import (
    FAMILIES,
    LATENCY_MEANING,
    WINDOWS,
    TrafficBucket,
    TrafficStore,
    Window,
    family,
)
from resolvers.principal import Caller, Role, require_role

ROLES = (Role.INTEGRATOR,)  # and admin
log = logging.getLogger("cari.console")


@dataclass(frozen=True)
class ChannelTraffic:
    channel: str
    family: str
    total: int
    errors: int
    per_minute: float  # over the whole window
    error_rate: float  # errors / total, 0 when nothing came
    latency_ms: float | None  # mean over the window; None where none is stored
    latency_meaning: str | None
    counts: list[int]  # one per bucket, oldest first
    error_counts: list[int]
    latencies: list[float | None]


@dataclass(frozen=True)
class TrafficOverview:
    window: Window
    since: datetime
    bucket_seconds: int
    starts: list[int]  # each bucket's start, epoch seconds (the charts' x axis)
    channels: list[ChannelTraffic]


class TrafficStats:
    def __init__(self, store: TrafficStore, clock: Clock, *, cache_seconds: float = 10.0
                 ) -> None:
        self._store = store
        self._clock = clock
        # Longer windows have wider buckets: their figures may be kept longer (a day's 15
        # minute buckets 3x, a week's 2 hour buckets 6x the hour's).
        self._keep = {Window.HOUR: cache_seconds, Window.DAY: 3 * cache_seconds,
                      Window.WEEK: 6 * cache_seconds}
        self._cache: dict[Window, tuple[datetime, TrafficOverview]] = {}
        self._locks = {window: asyncio.Lock() for window in Window}
        self._refreshing: dict[Window, asyncio.Task[None]] = {}

    async def overview(self, caller: Caller, window: Window) -> TrafficOverview:
        require_role(caller, *ROLES)  # counts only: no patient data, nothing to audit
        now = self._clock.now()
        cached = self._cache.get(window)
        if cached is not None and (now - cached[0]).total_seconds() < self._keep[window]:
            return cached[1]
        # A day's or a week's figures are read over tens of thousands of rows (0.3 s for a
        # week of 90k messages on SQLite): the operator, who opens the hour first, finds them
        # computed when they switch; later, a page answers with the figures it has (a
        # bucket's width from wrong at most) and they are recomputed behind it, once.
        for wider in (Window.DAY, Window.WEEK):
            if wider is not window and wider not in self._cache:
                self._in_background(wider)
        if cached is not None and window is not Window.HOUR:
            self._in_background(window)
            return cached[1]
        return await self._refresh_now(window)

    def _in_background(self, window: Window) -> None:
        if window not in self._refreshing:
            task = asyncio.create_task(self._refresh(window))
            self._refreshing[window] = task
            task.add_done_callback(lambda _: self._refreshing.pop(window, None))

    async def _refresh(self, window: Window) -> None:
        try:
            await self._refresh_now(window)
        except Exception:  # the next request computes in line and raises it to its caller
            log.exception("traffic overview refresh failed", extra={"window": window.value})

    async def _refresh_now(self, window: Window) -> TrafficOverview:
        async with self._locks[window]:  # one computation per window; the others reuse it
            cached = self._cache.get(window)
            now = self._clock.now()
            if cached is not None and (now - cached[0]).total_seconds() < self._keep[window]:
                return cached[1]
            result = await self._compute(window, now)
            self._cache[window] = (now, result)
            return result

    async def _compute(self, window: Window, now: datetime) -> TrafficOverview:
        length, width = WINDOWS[window]
        last = int(now.timestamp()) // width
        first = last - int(length.total_seconds()) // width + 1
        since = datetime.fromtimestamp(first * width, UTC)
        rows = await self._store.buckets(since, width)
        by_channel: dict[str, dict[int, TrafficBucket]] = defaultdict(dict)
        for b in rows:
            if first <= b.index <= last:
                by_channel[b.channel][b.index] = b
        minutes = (last - first + 1) * width / 60
        channels = []
        for name, buckets in by_channel.items():
            fam = family(name)
            series = [buckets.get(i) for i in range(first, last + 1)]
            total = sum(b.count for b in buckets.values())
            errors = sum(b.errors for b in buckets.values())
            lat_n = sum(b.latency_count for b in buckets.values())
            lat_sum = sum(b.latency_ms_sum for b in buckets.values())
            channels.append(ChannelTraffic(
                name, fam, total, errors, total / minutes, errors / total if total else 0.0,
                lat_sum / lat_n if lat_n else None, LATENCY_MEANING.get(fam),
                [b.count if b else 0 for b in series], [b.errors if b else 0 for b in series],
                [b.latency_ms_sum / b.latency_count if b and b.latency_count else None
                 for b in series]))
        channels.sort(key=lambda c: (FAMILIES.index(c.family), c.channel))
        return TrafficOverview(window, since, width,
                               [i * width for i in range(first, last + 1)], channels)
