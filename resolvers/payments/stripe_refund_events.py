"""Signed Stripe refund events: they, not our API call, decide a refund and move the payment.

- ``refund.created`` / ``refund.updated`` / ``refund.failed`` (a refund object): the refund
  is found by its Stripe id, else by ``metadata.cari_refund_id`` (ours), else it was made
  outside the gateway (Dashboard) and is recorded for the payment it belongs to. Its status
  becomes Stripe's (``pending``/``requires_action`` -> pending; ``succeeded``; ``failed``;
  ``canceled``); failed and canceled are final, and succeeded can only still fail, so events
  arriving out of order cannot bring a refund back.
- ``charge.refunded`` (a charge object): refunds listed in ``refunds.data`` are applied as
  above; ``amount_refunded`` (Stripe's running total) is kept as the payment's
  ``refunded_minor`` (never lowered by an older event); when it equals what our open and
  confirmed refunds add up to, the open ones are confirmed.

The payment moves to ``refunded`` when the charge is refunded in full (``refunded: true`` or
the refunded total reaches the amount). A partial refund leaves it ``succeeded`` with
``refunded_amount`` showing what went back.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from resolvers.clock import Clock
from resolvers.ids import new_id
from resolvers.payments.model import OPEN_STATUSES, Payment, PaymentStatus, TransitionSource
from resolvers.payments.providers import ProviderStatus
from resolvers.payments.repository import PaymentsUnitOfWorkFactory
from resolvers.payments.settle import Settler
from resolvers.payments.stripe_model import (
    FINAL_REFUNDS,
    OPEN_REFUNDS,
    DuplicateRefund,
    Refund,
    RefundStatus,
    StripeStore,
)
from resolvers.payments.view import refunded_total

log = logging.getLogger("cari.payments")
S = PaymentStatus
R = RefundStatus
SOURCE = TransitionSource.STRIPE
STRIPE_STATUS = {"pending": R.PENDING, "requires_action": R.PENDING, "succeeded": R.SUCCEEDED,
                 "failed": R.FAILED, "canceled": R.CANCELED}
# Which stored statuses an incoming one may replace.
MAY_REPLACE = {R.PENDING: (R.REQUESTED, R.PENDING),
               R.SUCCEEDED: (R.REQUESTED, R.PENDING),
               R.FAILED: (R.REQUESTED, R.PENDING, R.SUCCEEDED),
               R.CANCELED: (R.REQUESTED, R.PENDING)}


def _text(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) and value else None


def _int(obj: Mapping[str, Any], name: str) -> int | None:
    value = obj.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _metadata(obj: Mapping[str, Any], name: str) -> str | None:
    metadata = obj.get("metadata")
    return _text(metadata, name) if isinstance(metadata, Mapping) else None


class StripeRefundEvents:
    def __init__(self, uow_factory: PaymentsUnitOfWorkFactory, clock: Clock, settler: Settler,
                 store: StripeStore) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._settler = settler
        self._store = store

    async def refund_event(self, payment: Payment, obj: Mapping[str, Any]) -> None:
        """``refund.*``: ``payment`` is the payment the refund belongs to."""
        await self._apply_refund(payment, obj)
        await self._settle(payment, None, None)

    async def charge_refunded(self, payment: Payment, obj: Mapping[str, Any]) -> None:
        refunds = obj.get("refunds")
        listed = refunds.get("data") if isinstance(refunds, Mapping) else None
        for item in listed if isinstance(listed, list) else []:
            if isinstance(item, Mapping):
                await self._apply_refund(payment, item)
        await self._settle(payment, _int(obj, "amount_refunded"), obj)

    async def _apply_refund(self, payment: Payment, obj: Mapping[str, Any]) -> None:
        stripe_id = _text(obj, "id")
        status = STRIPE_STATUS.get(_text(obj, "status") or "")
        if stripe_id is None or status is None:
            return
        refund = await self._store.refund_by_stripe_id(stripe_id)
        ours = _metadata(obj, "cari_refund_id")
        if refund is None and ours:
            refund = await self._store.get_refund(ours)
            if refund is not None and refund.payment_id != payment.id:
                refund = None
        if refund is None:
            refund = await self._record_outside(payment, obj, stripe_id)
            if refund is None:
                return
        changes: dict[str, Any] = {"status": status, "updated_at": self._clock.now()}
        if refund.stripe_refund_id is None:
            changes["stripe_refund_id"] = stripe_id
        if status in FINAL_REFUNDS:
            changes["failure_reason"] = (_text(obj, "failure_reason") or status.value)[:500]
        if refund.status == status and "stripe_refund_id" not in changes:
            return
        applied = await self._store.update_refund(refund.id, changes, expected=MAY_REPLACE[status])
        log.info("stripe refund updated", extra={"payment_id": payment.id, "refund_id": refund.id,
                                                 "refund_status": status.value,
                                                 "applied": applied})

    async def _record_outside(self, payment: Payment, obj: Mapping[str, Any],
                              stripe_id: str) -> Refund | None:
        """A refund made in Stripe itself (Dashboard, API): recorded as created by stripe."""
        amount = _int(obj, "amount")
        if amount is None:
            return None
        now = self._clock.now()
        refund = Refund(
            id=new_id(), payment_id=payment.id, amount_minor=amount, currency=payment.currency,
            reason=(_text(obj, "reason") or None), status=R.PENDING, created_by="stripe",
            idempotency_key=stripe_id, request_hash=hashlib.sha256(stripe_id.encode()).hexdigest(),
            stripe_idempotency_key=stripe_id, stripe_refund_id=stripe_id, failure_reason=None,
            created_at=now, updated_at=now)
        try:
            await self._store.add_refund(refund)
        except DuplicateRefund:  # recorded meanwhile by a concurrent event
            return await self._store.refund_by_stripe_id(stripe_id)
        return refund

    async def _settle(self, payment: Payment, amount_refunded: int | None,
                      charge: Mapping[str, Any] | None) -> None:
        refunds = (await self._store.refunds_of([payment.id]))[payment.id]
        total = refunded_total(payment, refunds)
        if amount_refunded is not None:
            accounted = sum(r.amount_minor for r in refunds
                            if r.status in OPEN_REFUNDS or r.status == R.SUCCEEDED)
            full = charge is not None and charge.get("refunded") is True
            if amount_refunded == accounted or full or amount_refunded >= payment.amount_minor:
                # Stripe's total matches our refunds (or all is refunded): they went through.
                for r in refunds:
                    if r.status in OPEN_REFUNDS:
                        await self._store.update_refund(r.id, {
                            "status": R.SUCCEEDED, "updated_at": self._clock.now()},
                            expected=OPEN_REFUNDS)
            total = max(total, amount_refunded if not full else payment.amount_minor)
            refunds = (await self._store.refunds_of([payment.id]))[payment.id]
            total = max(total, refunded_total(payment, refunds))
        total = min(total, payment.amount_minor)
        if total > payment.refunded_minor:
            async with self._uow_factory() as uow:
                await uow.payments.update(payment.id, {"refunded_minor": total,
                                                       "updated_at": self._clock.now()})
                await uow.commit()
            payment = await self._settler.load(payment.id) or payment
        if total < payment.amount_minor:
            if total:
                log.info("stripe partial refund", extra={"payment_id": payment.id,
                                                         "refunded_minor": total})
            return
        if payment.status in OPEN_STATUSES and charge is not None:
            # Events out of order: the charge was paid before it was refunded.
            await self._settler.apply_status(payment, ProviderStatus(
                state="succeeded", amount_minor=_int(charge, "amount"),
                currency=(_text(charge, "currency") or "").upper() or None,
                provider_transaction_id=_text(charge, "id")), SOURCE)
            payment = await self._settler.load(payment.id) or payment
        if payment.status == S.SUCCEEDED:
            await self._settler.move(payment, S.REFUNDED, "stripe: refunded in full", SOURCE)
