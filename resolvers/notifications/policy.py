"""How hard the gateway tries to deliver, and when it gives up on an endpoint.

Retry schedule (delays after each failed attempt; Svix's, stretched to about three days):
immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 14 h, 14 h: eleven
attempts over 69 h 35 min. A message whose every attempt failed is ``exhausted``; it can be
replayed.

Auto-disable: an endpoint whose every attempt has failed for ``disable_after`` (default 5
days, Svix's rule), counted from its first failure after its last success, is disabled, and
a ``webhook.endpoint.disabled`` event goes to the other endpoints subscribed to it. A 410
Gone disables it at once (the receiver says it is gone for good).
"""

from __future__ import annotations

from resolvers.notifications.model import DEFAULT_SCHEDULE, DeliveryPolicy

__all__ = ["DEFAULT_SCHEDULE", "DeliveryPolicy", "retryable", "succeeded"]


def retryable(status_code: int | None) -> bool:
    """Every failure but 410 is retried on the schedule: a 4xx other than 408/429 usually
    means a broken endpoint that its owner will fix, and the schedule gives them days."""
    return status_code != 410


def succeeded(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300
