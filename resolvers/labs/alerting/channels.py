"""The channels an alert can be sent on. Each answers whether it reached somebody: one that
could not (no phone, nobody subscribed) lets the dispatcher try the next channel at once.
A channel that fails in transit raises, and the outbox retries the whole delivery (each
channel is idempotent on the delivery's key: the scheduler per message key, webhooks by
the key they send)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from resolvers.labs.alerting.model import (
    ORDERING_CLINICIAN,
    ChannelSpec,
    WhatsAppAlertTemplate,
    provider_id,
)
from resolvers.labs.alerting.ports import AlertSubscribers, ClinicianPhones
from resolvers.labs.records import LabAlert
from resolvers.messaging.model import MessageRequest, Purpose, TemplateCall
from resolvers.messaging.ports import MessageScheduler
from resolvers.outbox.delivery import DeliveryHandler
from resolvers.outbox.model import OutboxMessage

ALERT_EVENT = "lab.alert.raised"
REACHED_STATUSES = frozenset({"scheduled", "sending", "sent", "delivered", "read"})


@dataclass(frozen=True)
class AlertNotice:
    alert: LabAlert
    facility: str
    level: int  # 0 when raised, n at the n-th escalation
    message: OutboxMessage  # the outbox delivery being handled
    now: datetime


@dataclass(frozen=True)
class Outcome:
    reached: bool
    reason: str = ""  # why not (no patient data: it is logged)


class AlertChannel(Protocol):
    spec: ChannelSpec

    async def send(self, notice: AlertNotice) -> Outcome: ...


class SubscriptionsChannel:
    """The ``lab.alert.raised`` event went out with the alert (ingest, escalation): this
    channel only says whether an endpoint wants it."""

    def __init__(self, spec: ChannelSpec, subscribers: AlertSubscribers) -> None:
        self.spec = spec
        self._subscribers = subscribers

    async def send(self, notice: AlertNotice) -> Outcome:
        if await self._subscribers.any_wants(ALERT_EVENT):
            return Outcome(True)
        return Outcome(False, "no enabled webhook endpoint subscribes to lab.alert.raised")


class WhatsAppChannel:
    """The clinician's template through patient messaging (consent does not apply: the
    number is the operator's, not a patient's)."""

    def __init__(self, spec: ChannelSpec, scheduler: MessageScheduler, phones: ClinicianPhones,
                 template: WhatsAppAlertTemplate) -> None:
        self.spec = spec
        self._scheduler = scheduler
        self._phones = phones
        self._template = template

    async def _phone(self, alert: LabAlert) -> str | None:
        if self.spec.target != ORDERING_CLINICIAN:
            return self.spec.target
        provider = provider_id(alert.recipient)
        return await self._phones.phone_of(provider) if provider else None

    async def send(self, notice: AlertNotice) -> Outcome:
        phone = await self._phone(notice.alert)
        if phone is None:
            return Outcome(False, "no phone recorded for the ordering clinician")
        template = self._template
        [scheduled] = await self._scheduler.schedule([MessageRequest(
            key=f"lab-alert:{notice.alert.id}:{notice.level}:{self.spec.text}",
            purpose=Purpose.LAB_ALERT,
            template=TemplateCall(template.name, template.language,
                                  body_params=(template.link(notice.alert.id),)),
            send_at=notice.now, phone=phone, requires_consent=False)])
        if scheduled.status in REACHED_STATUSES:
            return Outcome(True)
        return Outcome(False, f"the WhatsApp message was {scheduled.status}: "
                              f"{(scheduled.reason or '')[:120]}")


class WebhookChannel:
    """A JSON POST of the alert to one operator URL (the outbox's webhook handler)."""

    def __init__(self, spec: ChannelSpec, handler: DeliveryHandler) -> None:
        self.spec = spec
        self._handler = handler

    async def send(self, notice: AlertNotice) -> Outcome:
        await self._handler.deliver(notice.message)
        return Outcome(True)
