"""The outbox handler of ``webhook_fanout``: each event becomes one delivery per endpoint.

A row carries one event, or the events of one write (``model.batch_fanout``); the endpoints
are read once per row.

Runs in the worker, after the source's transaction committed. It stores the event once and,
in the same transaction, one delivery per subscribed endpoint with its outbox row to
``webhook_delivery`` (keyed ``event_id:endpoint_id``), so a retry of the fan-out after a crash
adds nothing twice. A disabled endpoint gets its delivery recorded as ``skipped`` (nothing is
sent) so that replaying "since" after re-enabling it sends what it missed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from resolvers.clock import Clock
from resolvers.ids import new_id
from resolvers.notifications.events import event_from_payload
from resolvers.notifications.model import (
    FANOUT_BATCH,
    WEBHOOK_DELIVERY,
    Delivery,
    DeliveryStatus,
    Endpoint,
    WebhookEvent,
    subscribed,
)
from resolvers.notifications.ports import WebhookStore
from resolvers.outbox.model import NewOutboxMessage, OutboxMessage

log = logging.getLogger("cari.notifications")


def wants(endpoint: Endpoint, event: WebhookEvent) -> bool:
    if event.only_endpoint is not None:
        return endpoint.id == event.only_endpoint
    if event.not_endpoint == endpoint.id:
        return False
    return subscribed(endpoint.event_types, endpoint.resource_types, event.type,
                      event.resource_type)


def delivery_message(delivery_id: str, key: str) -> NewOutboxMessage:
    return NewOutboxMessage(WEBHOOK_DELIVERY, {"delivery_id": delivery_id}, key)


class WebhookFanout:
    def __init__(self, store: WebhookStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def deliver(self, message: OutboxMessage) -> None:
        payloads = message.payload.get(FANOUT_BATCH, [message.payload])
        endpoints = await self._store.all_endpoints()
        for payload in payloads:
            await self._fan_out(event_from_payload(payload), endpoints)

    async def _fan_out(self, event: WebhookEvent, endpoints: Sequence[Endpoint]) -> None:
        now = self._clock.now()
        deliveries: list[Delivery] = []
        messages: list[NewOutboxMessage] = []
        for endpoint in endpoints:
            if not wants(endpoint, event):
                continue
            status = DeliveryStatus.PENDING if endpoint.enabled else DeliveryStatus.SKIPPED
            delivery = Delivery(id=new_id(), endpoint_id=endpoint.id, event_id=event.id,
                                event_type=event.type, status=status, attempts=0,
                                created_at=now, updated_at=now)
            deliveries.append(delivery)
            if endpoint.enabled:
                messages.append(delivery_message(delivery.id, f"{event.id}:{endpoint.id}"))
        if not deliveries:
            return  # nobody subscribes: nothing to store, nothing to replay later
        await self._store.record_fanout(event, deliveries, messages)
        if deliveries:
            log.info("webhook event fanned out", extra={
                "event_id": event.id, "event_type": event.type, "endpoints": len(messages)})
