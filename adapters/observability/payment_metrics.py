"""Payment counters (refused callbacks, mismatches, illegal transitions, ...) for /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class PaymentMetrics:
    """Implements resolvers.payments.settle.PaymentCounter on the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._counter = Counter(
            "cari_payment_events", "Payment events: transitions, refused callbacks, mismatches",
            ["event", "provider"], registry=registry)

    def __call__(self, what: str, provider: str) -> None:
        self._counter.labels(what, provider).inc()
