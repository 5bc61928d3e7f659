"""Stripe events that move payments. The event is signed (checked by the webhook route), so it
is the authoritative answer; amount and currency must still match our record.

Correlation: ``data.object.metadata.cari_payment_id`` (or ``payment_id``) names our payment;
otherwise the Stripe object id (PaymentIntent, Checkout Session, invoice or subscription id,
or for a charge its ``payment_intent``) is looked up as the payment's provider reference.
The first event that names our payment stores the object id as the provider reference.

| event | effect |
|---|---|
| ``payment_intent.processing`` | pending |
| ``payment_intent.succeeded`` | succeeded (amount and currency checked) |
| ``payment_intent.payment_failed`` | failed, with Stripe's error code |
| ``payment_intent.canceled`` | cancelled |
| ``checkout.session.completed`` | succeeded if ``payment_status`` is paid, else pending |
| ``checkout.session.async_payment_succeeded`` / ``_failed`` | succeeded / failed |
| ``checkout.session.expired`` | expired |
| ``charge.refunded`` | refunds recorded; refunded when the whole amount is refunded (partial: \
``refunded_minor`` only), see ``stripe_refund_events`` |
| ``refund.created`` / ``.updated`` / ``.failed`` | the refund's status; may complete a refund |
| ``invoice.paid`` | succeeded (``amount_paid`` checked) |
| ``invoice.payment_failed`` | failed once Stripe will not retry (no ``next_payment_attempt``), \
else pending |
| ``customer.subscription.*`` | the ``stripe_subscriptions`` row (newest event wins, see \
``stripe_subscriptions``); ``deleted`` also cancels an open payment |

A subscription invoice that no Cari payment names gets one, created from the invoice and keyed
on its id (``StripeSubscriptions.invoice_payment``): one payment per invoice however often its
events arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from resolvers.clock import Clock
from resolvers.payments.model import OPEN_STATUSES, Payment, PaymentStatus, TransitionSource
from resolvers.payments.providers import ProviderStatus
from resolvers.payments.repository import PaymentsUnitOfWorkFactory
from resolvers.payments.settle import Settler
from resolvers.payments.stripe_refund_events import StripeRefundEvents
from resolvers.payments.stripe_subscriptions import StripeSubscriptions, invoice_subscription
from resolvers.webhooks.model import IgnoredEvent, PermanentEventError, WebhookEvent

log = logging.getLogger("cari.payments")
S = PaymentStatus
SOURCE = TransitionSource.STRIPE
STRIPE_EVENT_TYPES = (
    "payment_intent.*", "charge.refunded", "checkout.session.*", "invoice.paid",
    "invoice.payment_failed", "customer.subscription.*", "refund.*",
)


def _object(event: WebhookEvent) -> Mapping[str, Any]:
    data = event.payload.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        raise PermanentEventError(f"stripe {event.event_type} without data.object")
    return obj


def _text(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) and value else None


def _int(obj: Mapping[str, Any], name: str) -> int | None:
    value = obj.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class StripePaymentEvents:
    """One handler for every payment-related Stripe event type (see the table above)."""

    def __init__(self, uow_factory: PaymentsUnitOfWorkFactory, clock: Clock, settler: Settler,
                 refunds: StripeRefundEvents, subscriptions: StripeSubscriptions) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._settler = settler
        self._refunds = refunds
        self._subscriptions = subscriptions

    async def _find(self, obj: Mapping[str, Any]) -> Payment | None:
        metadata = obj.get("metadata")
        ours = None
        if isinstance(metadata, Mapping):
            ours = _text(metadata, "cari_payment_id") or _text(metadata, "payment_id")
        references = [r for r in (_text(obj, "id"), _text(obj, "payment_intent"),
                                  _text(obj, "subscription")) if r]
        async with self._uow_factory() as uow:
            if ours:
                found = (await uow.payments.get_many([ours])).get(ours)
                if found is not None and found.provider == "stripe":
                    return found
            for reference in references:
                found = await uow.payments.find_by_provider_reference("stripe", reference)
                if found is not None:
                    return found
        return None

    async def _remember_reference(self, payment: Payment, obj: Mapping[str, Any]) -> Payment:
        reference = _text(obj, "payment_intent") or _text(obj, "id")
        if payment.provider_reference or not reference:
            return payment
        async with self._uow_factory() as uow:
            await uow.payments.update(payment.id, {"provider_reference": reference[:255],
                                                   "updated_at": self._clock.now()})
            await uow.commit()
        return await self._settler.load(payment.id) or payment

    async def __call__(self, event: WebhookEvent) -> None:
        obj = _object(event)
        kind = event.event_type
        if kind.startswith("customer.subscription."):
            await self._subscriptions.subscription_event(event, obj)
            if kind != "customer.subscription.deleted":
                return
        if kind in ("invoice.paid", "invoice.payment_failed"):
            payment = await self._find_invoice(obj, kind == "invoice.paid")
        else:
            payment = await self._find(obj)
        if payment is None:
            if kind == "customer.subscription.deleted":
                return
            raise IgnoredEvent(f"no Cari payment for this stripe {kind}")
        if not kind.startswith("refund."):
            payment = await self._remember_reference(payment, obj)
        currency = (_text(obj, "currency") or "").upper() or None
        if kind == "payment_intent.succeeded":
            await self._paid(payment, _int(obj, "amount_received") or _int(obj, "amount"),
                             currency, _text(obj, "latest_charge"))
        elif kind == "payment_intent.processing":
            await self._settler.move(payment, S.PENDING, "stripe: processing", SOURCE)
        elif kind == "payment_intent.payment_failed":
            error = obj.get("last_payment_error")
            code = _text(error, "code") if isinstance(error, Mapping) else None
            await self._failed(payment, f"stripe: {code or 'payment_failed'}")
        elif kind == "payment_intent.canceled":
            await self._settler.move(payment, S.CANCELLED, "stripe: canceled", SOURCE)
        elif kind == "checkout.session.completed":
            if obj.get("payment_status") in ("paid", "no_payment_required"):
                await self._paid(payment, _int(obj, "amount_total"), currency, None)
            else:
                await self._settler.move(payment, S.PENDING, "stripe: checkout awaiting payment",
                                         SOURCE)
        elif kind == "checkout.session.async_payment_succeeded":
            await self._paid(payment, _int(obj, "amount_total"), currency, None)
        elif kind == "checkout.session.async_payment_failed":
            await self._failed(payment, "stripe: async payment failed")
        elif kind == "checkout.session.expired":
            await self._settler.move(payment, S.EXPIRED, "stripe: checkout expired", SOURCE)
        elif kind == "charge.refunded":
            await self._refunds.charge_refunded(payment, obj)
        elif kind.startswith("refund."):
            await self._refunds.refund_event(payment, obj)
        elif kind == "invoice.paid":
            await self._paid(payment, _int(obj, "amount_paid"), currency, None)
        elif kind == "invoice.payment_failed":
            if obj.get("next_payment_attempt") is None:
                await self._failed(payment, "stripe: invoice payment failed")
            else:
                await self._settler.move(payment, S.PENDING, "stripe: invoice payment failed; "
                                         "Stripe will retry", SOURCE)
        elif kind == "customer.subscription.deleted":
            if payment.status in OPEN_STATUSES:
                await self._settler.move(payment, S.CANCELLED, "stripe: subscription deleted",
                                         SOURCE)
        else:
            raise IgnoredEvent(f"stripe {kind} does not change payments")

    async def _paid(self, payment: Payment, amount: int | None, currency: str | None,
                    transaction: str | None) -> None:
        await self._settler.apply_status(payment, ProviderStatus(
            state="succeeded", amount_minor=amount, currency=currency,
            provider_transaction_id=transaction), SOURCE)

    async def _failed(self, payment: Payment, reason: str) -> None:
        await self._settler.move(payment, S.FAILED, reason, SOURCE, {"failure_reason": reason})

    async def _find_invoice(self, obj: Mapping[str, Any], paid: bool) -> Payment | None:
        """The payment an invoice names, one registered for its subscription that is still
        open (its first invoice), else the invoice's own payment (created on first sight)."""
        metadata = obj.get("metadata")
        ours = _text(metadata, "cari_payment_id") if isinstance(metadata, Mapping) else None
        invoice_id = _text(obj, "id")
        subscription_id, _ = invoice_subscription(obj)
        async with self._uow_factory() as uow:
            if ours:
                found = (await uow.payments.get_many([ours])).get(ours)
                if found is not None and found.provider == "stripe":
                    return found
            for reference in (invoice_id, _text(obj, "payment_intent")):
                if reference:
                    found = await uow.payments.find_by_provider_reference("stripe", reference)
                    if found is not None:
                        return found
            if subscription_id:
                found = await uow.payments.find_by_provider_reference("stripe", subscription_id)
                if found is not None and found.status in OPEN_STATUSES:
                    return found
        return await self._subscriptions.invoice_payment(obj, paid)
