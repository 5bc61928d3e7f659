"""Token buckets in memory: how many requests one key may still make, refilled over time.

Each key's bucket holds up to ``capacity`` tokens and gains ``capacity`` per ``period``
seconds; a request takes one. A full bucket is the same as no bucket, so idle keys are
forgotten, which bounds the memory to the keys active within one period.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable


class TokenBuckets:
    def __init__(self, capacity: int, period: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.rate = capacity / period  # tokens per second
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, at)
        self._next_sweep = clock() + period

    def take(self, key: Hashable) -> float:
        """0 when the request may go ahead; otherwise the seconds until a token is back."""
        now = self._clock()
        if now >= self._next_sweep or len(self._buckets) > self._max_keys:
            self._forget_full(now)
        tokens, at = self._buckets.get(key, (float(self.capacity), now))
        tokens = min(float(self.capacity), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after_seconds(wait: float) -> int:
        return max(1, math.ceil(wait))

    def _forget_full(self, now: float) -> None:
        refill = self.capacity / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}
        if len(self._buckets) > self._max_keys:
            # More active keys than we keep: forgetting them all briefly lets traffic
            # through, which beats sweeping the whole table on every request.
            self._buckets.clear()
        self._next_sweep = now + refill
