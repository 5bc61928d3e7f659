"""The message log's refusals that the per-minute cap did not keep, as a Prometheus counter
(a flood of garbage shows here rather than in the database)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class RefusedDropped:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._counter = Counter(
            "cari_refused_messages_dropped",
            "Refused inbound messages not kept in the message log (per-minute cap reached)",
            ["channel"], registry=registry)

    def __call__(self, channel: str) -> None:
        self._counter.labels(channel).inc()
