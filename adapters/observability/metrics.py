"""Prometheus metrics, one registry per app instance (tests build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "cari_http_requests", "HTTP requests handled", ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cari_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "cari_http_requests_in_flight", "HTTP requests being handled", registry=self.registry
        )
        self.outbox = Gauge(
            "cari_outbox_messages", "Outbox messages by status (dead = dead letters)",
            ["status"], registry=self.registry,
        )

        self.lab_alerts_open = Gauge(
            "cari_lab_alerts_open",
            "Unacknowledged critical lab alerts by delivery status (undelivered = no channel)",
            ["delivery"], registry=self.registry,
        )
        self.lab_alerts_undelivered = Counter(
            "cari_lab_alerts_undelivered", "Critical lab alerts no channel could take",
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self, outbox_counts: dict[str, int],
               lab_alert_counts: dict[str, int] | None = None) -> bytes:
        for status, count in outbox_counts.items():
            self.outbox.labels(status).set(count)
        for status, count in (lab_alert_counts or {}).items():
            self.lab_alerts_open.labels(status).set(count)
        return bytes(generate_latest(self.registry))
