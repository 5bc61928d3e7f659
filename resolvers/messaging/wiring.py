"""Messaging's use cases built once from its adapters (composition_builders.messaging)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from resolvers.audit.trail import AuditTrail
from resolvers.messaging.inbound import QuickReplies, WhatsAppInbox
from resolvers.messaging.model import MessagingConfig
from resolvers.messaging.ports import MessagingAdapters, WhatsAppWebhookCheck
from resolvers.messaging.scheduler import Scheduling
from resolvers.messaging.sender import DueSender
from resolvers.messaging.service import MessagingUseCases


@dataclass(frozen=True)
class MessagingServices:
    config: MessagingConfig
    scheduler: Scheduling  # the MessageScheduler port other capabilities use
    quick_replies: QuickReplies  # register(prefix, QuickReplyHandler)
    inbox: WhatsAppInbox  # the inbox's handler for provider "whatsapp"
    use_cases: MessagingUseCases
    sender: DueSender | None  # None when WhatsApp is not configured: messages wait
    webhook: WhatsAppWebhookCheck | None  # None when not configured: the routes 404


def build_messaging(adapters: MessagingAdapters, audit: AuditTrail,
                    now: Callable[[], datetime]) -> MessagingServices:
    store, contacts, graph, config = (adapters.store, adapters.contacts, adapters.graph,
                                      adapters.config)
    scheduling = Scheduling(store, contacts, config, now)
    replies = QuickReplies()
    sender = DueSender(store, graph, scheduling, config, now) if graph is not None else None
    if sender is not None:
        scheduling.on_scheduled = sender.wake
    return MessagingServices(
        config=config, scheduler=scheduling, quick_replies=replies,
        inbox=WhatsAppInbox(store, scheduling, replies, config, now),
        use_cases=MessagingUseCases(store, scheduling, graph, audit, now), sender=sender,
        webhook=adapters.webhook)
