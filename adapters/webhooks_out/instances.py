"""The outbound webhook adapters from settings, on the shared guarded HTTP client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.engine import session_factory
from adapters.db.webhook_subscriptions import SqlWebhookStore
from adapters.http.outbound import OutboundPolicy
from adapters.settings.webhooks_out import WebhookOutSettings
from adapters.webhooks_out.guard import EndpointUrlPolicy
from adapters.webhooks_out.sender import HttpWebhookSender
from adapters.webhooks_out.signer import StandardWebhooksSigner
from resolvers.clock import SystemClock
from resolvers.notifications.model import DeliveryPolicy
from resolvers.notifications.ports import NotificationAdapters


def delivery_policy(settings: WebhookOutSettings) -> DeliveryPolicy:
    return DeliveryPolicy(schedule=settings.retry_schedule,
                          disable_after=timedelta(seconds=settings.disable_after_seconds),
                          rotation_grace=timedelta(seconds=settings.rotation_grace_seconds),
                          timeout_seconds=settings.timeout_seconds)


def webhook_store(engine: AsyncEngine, on_commit: Callable[[], None]) -> SqlWebhookStore:
    return SqlWebhookStore(session_factory(engine), SystemClock().now, on_commit)


def webhook_adapters(settings: WebhookOutSettings, client: httpx.AsyncClient,
                     policy: OutboundPolicy, store: SqlWebhookStore) -> NotificationAdapters:
    return NotificationAdapters(
        store=store, sender=HttpWebhookSender(client), signer=StandardWebhooksSigner(),
        guard=EndpointUrlPolicy(policy), enqueue=store.enqueue_events,
        policy=delivery_policy(settings))
