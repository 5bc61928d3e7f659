"""Stripe subscriptions: the ``stripe_subscriptions`` mirror and one payment per invoice.

``customer.subscription.created|updated|deleted|paused|resumed|trial_will_end`` upsert the
subscription (customer, status, price, current period end, cancel at period end, patient from
``metadata.cari_patient_id``). Stripe does not guarantee the order of deliveries, so an event
is applied only if it is newer than the one the row holds: a later ``event.created`` wins;
within the same second the later lifecycle stage wins (``RANK``: created < updated, paused,
resumed < deleted), and an equal one keeps what is stored (the first applied; a re-delivery
changes nothing). A ``canceled`` subscription never comes back (Stripe never reopens one).

``invoice.paid`` / ``invoice.payment_failed`` of a subscription invoice that no Cari payment
names create one (provider stripe, collection, the invoice's amount and currency, reference
and provider reference = the invoice id, created by ``stripe``), keyed on the invoice id so
that repeats find it; ``stripe_events`` then moves it (paid -> succeeded; failed -> pending
while Stripe retries, failed when it stops).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from resolvers.audit.access import patients_or_none
from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.clock import Clock
from resolvers.errors import Forbidden
from resolvers.ids import new_id
from resolvers.payments.model import (
    KNOWN_CURRENCIES,
    Direction,
    DuplicatePayment,
    Payment,
    PaymentStatus,
    PaymentTransition,
    TransitionSource,
    new_callback_token,
)
from resolvers.payments.repository import PaymentsUnitOfWorkFactory
from resolvers.payments.stripe_model import StripeStore, StripeSubscription, SubscriptionQuery
from resolvers.principal import Caller, Role, require_role
from resolvers.webhooks.model import IgnoredEvent, PermanentEventError, WebhookEvent

log = logging.getLogger("cari.payments")
RANK = {"created": 0, "trial_will_end": 0, "updated": 1, "paused": 1, "resumed": 1,
        "deleted": 2}
MAX_PAGE = 200


def _text(obj: Mapping[str, Any] | None, name: str) -> str | None:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    return value if isinstance(value, str) and value else None


def _id_of(value: Any) -> str | None:
    """A Stripe reference: an id string or an expanded object."""
    if isinstance(value, str) and value:
        return value
    return _text(value, "id") if isinstance(value, Mapping) else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def _first_item(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    items = obj.get("items")
    data = items.get("data") if isinstance(items, Mapping) else None
    first = data[0] if isinstance(data, list) and data else None
    return first if isinstance(first, Mapping) else {}


def invoice_subscription(obj: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    """(subscription id, subscription metadata) of an invoice, old and new API shapes."""
    parent = obj.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
    if not isinstance(details, Mapping):
        details = obj.get("subscription_details")
    metadata = details.get("metadata") if isinstance(details, Mapping) else None
    subscription = _id_of(obj.get("subscription")) or (
        _id_of(details.get("subscription")) if isinstance(details, Mapping) else None)
    return subscription, metadata if isinstance(metadata, Mapping) else {}


def subscription_of(event: WebhookEvent, obj: Mapping[str, Any], now: datetime) -> StripeSubscription:
    subscription_id = _text(obj, "id")
    status = _text(obj, "status")
    created = event.payload.get("created")
    if not subscription_id or not status or not isinstance(created, int):
        raise PermanentEventError(f"stripe {event.event_type} without id, status or created")
    item = _first_item(obj)
    price = item.get("price")
    plan = obj.get("plan") or item.get("plan")
    metadata = obj.get("metadata")
    return StripeSubscription(
        id=subscription_id[:255], customer_id=_id_of(obj.get("customer")), status=status[:32],
        price_id=_id_of(price) or _id_of(plan),
        current_period_end=_time(obj.get("current_period_end"))
        or _time(item.get("current_period_end")),
        cancel_at_period_end=obj.get("cancel_at_period_end") is True,
        patient_id=(_text(metadata, "cari_patient_id") or "")[:64] or None,
        last_event_id=event.event_id[:255], last_event_type=event.event_type[:64],
        last_event_created=created,
        last_event_rank=RANK.get(event.event_type.rsplit(".", 1)[-1], 1),
        created_at=now, updated_at=now)


class StripeSubscriptions:
    """The ``customer.subscription.*`` handler, invoice payments and the listing use case."""

    def __init__(self, uow_factory: PaymentsUnitOfWorkFactory, clock: Clock, audit: AuditTrail,
                 store: StripeStore) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._audit = audit
        self._store = store

    async def subscription_event(self, event: WebhookEvent, obj: Mapping[str, Any]) -> None:
        subscription = subscription_of(event, obj, self._clock.now())
        if subscription.patient_id and not await self._patient_exists(subscription.patient_id):
            subscription = replace(subscription, patient_id=None)
        applied = await self._store.apply_subscription(subscription)
        log.info("stripe subscription event", extra={
            "event_type": event.event_type, "subscription_status": subscription.status,
            "webhook_event_id": event.id, "applied": applied})
        if not applied:
            raise IgnoredEvent("an event as new or newer was applied to this subscription")

    async def _patient_exists(self, patient_id: str) -> bool:
        async with self._uow_factory() as uow:
            return patient_id in await uow.patients.get_many([patient_id])

    async def invoice_payment(self, obj: Mapping[str, Any], paid: bool) -> Payment | None:
        """The Cari payment of a subscription invoice, created on its first event."""
        invoice_id = _text(obj, "id")
        subscription_id, sub_metadata = invoice_subscription(obj)
        if not invoice_id or not subscription_id:
            return None
        async with self._uow_factory() as uow:
            found = await uow.payments.find_by_provider_reference("stripe", invoice_id[:255])
        if found is not None:
            return found
        currency = (_text(obj, "currency") or "").upper()
        amount = obj.get("amount_paid") if paid else obj.get("amount_due")
        if not isinstance(amount, int) or amount <= 0 or currency not in KNOWN_CURRENCIES:
            raise IgnoredEvent("subscription invoice without a positive amount in a known currency")
        stored = await self._store.get_subscription(subscription_id)
        metadata = obj.get("metadata")
        patient = (_text(metadata, "cari_patient_id") if isinstance(metadata, Mapping) else None) \
            or _text(sub_metadata, "cari_patient_id") or (stored.patient_id if stored else None)
        if patient and not await self._patient_exists(patient[:64]):
            patient = None
        now = self._clock.now()
        payment = Payment(
            id=new_id(), provider="stripe", direction=Direction.COLLECTION, amount_minor=amount,
            currency=currency, phone_e164=None, reference=invoice_id[:64],
            description=f"Stripe subscription {subscription_id}"[:200],
            patient_id=patient[:64] if patient else None, status=PaymentStatus.CREATED,
            idempotency_key=invoice_id[:255],
            request_hash=hashlib.sha256(invoice_id.encode()).hexdigest(),
            attempt_key=str(uuid.uuid4()), callback_token_hash=new_callback_token()[1],
            provider_reference=invoice_id[:255],
            provider_transaction_id=(_id_of(obj.get("payment_intent"))
                                     or _id_of(obj.get("charge")) or None),
            provider_secret_hash=None, redirect_url=None, failure_reason=None,
            created_by="stripe", created_at=now, updated_at=now,
            expires_at=now + timedelta(days=30), next_check_at=None, initiated=True)
        created = PaymentTransition(id=new_id(), payment_id=payment.id, from_status=None,
                                    to_status=PaymentStatus.CREATED,
                                    reason="stripe subscription invoice",
                                    source=TransitionSource.STRIPE, at=now)
        async with self._uow_factory() as uow:
            try:
                await uow.payments.add(payment, created)
            except DuplicatePayment:  # a concurrent delivery of this invoice created it
                pass
            else:
                await uow.commit()
                log.info("stripe invoice payment created", extra={
                    "payment_id": payment.id, "provider": "stripe"})
        async with self._uow_factory() as uow:
            return await uow.payments.find_by_idempotency_key("stripe", invoice_id[:255])

    async def search(self, caller: Caller, query: SubscriptionQuery) -> list[StripeSubscription]:
        targets = [(None, query.patient_id)]
        try:
            require_role(caller, Role.BILLING)
        except Forbidden:
            await self._audit.record(audit_records(
                caller, action=AuditAction.READ, resource_type="StripeSubscription",
                targets=targets, outcome=AuditOutcome.DENIED, at=self._clock.now()))
            raise
        found = await self._store.search_subscriptions(
            replace(query, limit=max(1, min(query.limit, MAX_PAGE))))
        with_patient = [(s.id, s.patient_id) for s in found if s.patient_id]
        # A page without patients is still a look into a register that holds them.
        await self._audit.record(audit_records(
            caller, action=AuditAction.READ, resource_type="StripeSubscription",
            targets=with_patient or patients_or_none([query.patient_id]),
            outcome=AuditOutcome.SUCCESS, at=self._clock.now()))
        return found
