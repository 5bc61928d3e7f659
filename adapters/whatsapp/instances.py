"""The WhatsApp messaging adapters from settings: the SQL store, patient contacts, the Graph
API client on the shared (guarded) HTTP client when the channel is configured."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.engine import session_factory
from adapters.db.messaging import SqlMessagingStore, SqlPatientContacts
from adapters.settings.whatsapp import WhatsAppSettings
from adapters.whatsapp.client import GraphClient
from adapters.whatsapp.webhook import WhatsAppWebhook
from resolvers.clock import SystemClock
from resolvers.messaging.model import DEFAULT_OPT_IN, DEFAULT_OPT_OUT, MessagingConfig
from resolvers.messaging.ports import MessagingAdapters


def messaging_config(settings: WhatsAppSettings) -> MessagingConfig:
    return MessagingConfig(
        configured=settings.configured, default_country=settings.default_country or None,
        messages_per_second=settings.messages_per_second,
        pair_interval_seconds=settings.pair_interval_seconds,
        opt_out_keywords=settings.opt_out_keywords or DEFAULT_OPT_OUT,
        opt_in_keywords=settings.opt_in_keywords or DEFAULT_OPT_IN,
        template_sync_seconds=settings.template_sync_seconds,
        max_attempts=settings.max_attempts, backoff_base_seconds=settings.backoff_base_seconds,
        backoff_max_seconds=settings.backoff_max_seconds,
        token_retry_seconds=settings.token_retry_seconds, poll_seconds=settings.poll_seconds,
        lease_seconds=settings.lease_seconds)


def whatsapp_adapters(settings: WhatsAppSettings, client: httpx.AsyncClient,
                      engine: AsyncEngine, on_commit: Callable[[], None]) -> MessagingAdapters:
    sessions = session_factory(engine)
    return MessagingAdapters(
        store=SqlMessagingStore(sessions, SystemClock().now, on_commit),
        contacts=SqlPatientContacts(sessions),
        graph=GraphClient(settings, client) if settings.configured else None,
        webhook=WhatsAppWebhook(settings.app_secret, settings.verify_token)
        if settings.configured else None,
        config=messaging_config(settings))
