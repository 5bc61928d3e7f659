"""Delivers outbox events to an HTTP endpoint, with the idempotency key on every attempt."""

from __future__ import annotations

import httpx

from adapters.http.outbound import OutboundRefused
from resolvers.outbox.delivery import PermanentDeliveryError
from resolvers.outbox.model import OutboxMessage

EVENT_WEBHOOK = "event_webhook"


class WebhookDelivery:
    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self._client = client
        self._url = url

    async def deliver(self, message: OutboxMessage) -> None:
        try:
            response = await self._client.post(
                self._url,
                json=message.payload,
                headers={
                    "Idempotency-Key": message.idempotency_key,
                    "X-Cari-Delivery-Id": message.id,
                    "X-Cari-Event-Type": str(message.payload.get("type", "")),
                },
            )
        except OutboundRefused as exc:
            # Policy, not weather: only an operator can fix it (then replay the dead letter).
            raise PermanentDeliveryError(f"outbound request refused: {exc}") from None
        if response.status_code in (408, 425, 429) or response.status_code >= 500:
            raise RuntimeError(f"destination answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentDeliveryError(f"destination refused with {response.status_code}")
