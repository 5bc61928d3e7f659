"""The Prometheus counter of refused webhook deliveries, on the app's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class WebhookRejections:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._counter = Counter(
            "cari_webhook_rejections", "Webhook deliveries refused before storage",
            ["provider", "reason"], registry=registry)

    def __call__(self, provider: str, reason: str) -> None:
        self._counter.labels(provider, reason).inc()
