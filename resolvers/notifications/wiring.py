"""The notification use cases and outbox handlers, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from resolvers.audit.trail import AuditTrail
from resolvers.clock import Clock
from resolvers.notifications.delivery import WebhookDeliveryHandler
from resolvers.notifications.delivery_log import DeliveryLog
from resolvers.notifications.endpoints import WebhookEndpoints
from resolvers.notifications.fanout import WebhookFanout
from resolvers.notifications.model import WEBHOOK_DELIVERY, WEBHOOK_FANOUT, DeliveryPolicy
from resolvers.notifications.ports import NotificationAdapters
from resolvers.outbox.delivery import DeliveryHandler


@dataclass(frozen=True)
class NotificationServices:
    endpoints: WebhookEndpoints
    deliveries: DeliveryLog
    handlers: dict[str, DeliveryHandler]  # the outbox destinations of webhook delivery
    policy: DeliveryPolicy  # the retry schedule of WEBHOOK_DELIVERY, for the worker


def build_notifications(adapters: NotificationAdapters, audit: AuditTrail,
                        clock: Clock) -> NotificationServices:
    a = adapters
    return NotificationServices(
        endpoints=WebhookEndpoints(a.store, a.guard, a.signer, audit, clock, a.policy,
                                   a.enqueue),
        deliveries=DeliveryLog(a.store, audit, clock),
        handlers={
            WEBHOOK_FANOUT: WebhookFanout(a.store, clock),
            WEBHOOK_DELIVERY: WebhookDeliveryHandler(a.store, a.sender, a.signer, clock,
                                                     a.policy),
        },
        policy=a.policy)
