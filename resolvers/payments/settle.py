"""Applying status changes: the table check, then a compare-and-set in its own transaction.

A provider's answer becomes a status only here. ``succeeded`` also requires that the amount,
currency and payer the provider reports (or, where its status query does not report them,
what the callback claimed) match our record; a mismatch makes the payment ``failed`` with
reason ``amount_mismatch``/``currency_mismatch``/``payer_mismatch``, is logged (ids only)
and counted, so that staff can look at it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from resolvers.clock import Clock
from resolvers.ids import new_id
from resolvers.payments.model import (
    Direction,
    Payment,
    PaymentStatus,
    PaymentTransition,
    TransitionSource,
    hash_secret,
)
from resolvers.payments.providers import ProviderStatus
from resolvers.payments.repository import PaymentsUnitOfWorkFactory
from resolvers.payments.state import allowed, check
from resolvers.payments.webhook_events import PAYMENT_EVENTS, payment_event

log = logging.getLogger("cari.payments")
S = PaymentStatus


class PaymentCounter(Protocol):
    def __call__(self, what: str, provider: str) -> None: ...


def _no_count(what: str, provider: str) -> None:
    return None


@dataclass(frozen=True)
class Claims:
    """What a callback claimed beyond the state; compared only where the query is silent."""

    amount_minor: int | None = None
    currency: str | None = None
    payer_sha256: str | None = None  # SHA-256 of the payer number's digits (see payer_hash)


def payer_hash(phone: str) -> str:
    return hash_secret(_digits(phone))


NO_CLAIMS = Claims()


def mismatch(payment: Payment, status: ProviderStatus, claims: Claims) -> str | None:
    amount = status.amount_minor if status.amount_minor is not None else claims.amount_minor
    currency = status.currency or claims.currency
    if amount is not None and amount != payment.amount_minor:
        return "amount_mismatch"
    if currency is not None and currency.upper() != payment.currency:
        return "currency_mismatch"
    if payment.phone_e164 is not None:
        if status.payer_e164 is not None:
            if _digits(status.payer_e164) != _digits(payment.phone_e164):
                return "payer_mismatch"
        elif claims.payer_sha256 is not None and claims.payer_sha256 != payer_hash(
                payment.phone_e164):
            return "payer_mismatch"
    return None


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def target_of(direction: Direction, state: str) -> PaymentStatus | None:
    """The status a provider state leads to; None: nothing known yet."""
    if state == "succeeded":
        return S.SUCCEEDED
    if state == "failed":
        return S.FAILED
    if state in ("cancelled", "expired"):
        if direction == Direction.PAYOUT:
            return S.FAILED  # a payout is never cancelled/expired by us: it simply failed
        return S.CANCELLED if state == "cancelled" else S.EXPIRED
    return None


class Settler:
    def __init__(self, uow_factory: PaymentsUnitOfWorkFactory, clock: Clock,
                 counter: PaymentCounter | None = None) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self.count: PaymentCounter = counter or _no_count

    async def load(self, payment_id: str) -> Payment | None:
        async with self._uow_factory() as uow:
            return (await uow.payments.get_many([payment_id])).get(payment_id)

    async def move(self, payment: Payment, target: PaymentStatus, reason: str,
                   source: TransitionSource, changes: Mapping[str, Any] | None = None,
                   *, strict: bool = False) -> Payment:
        """Move ``payment`` to ``target`` (through ``pending`` when a provider skipped it).

        Returns the payment as stored afterwards. An illegal transition is refused and logged;
        with ``strict`` it raises ``IllegalTransition`` instead.
        """
        path = [target]
        if not allowed(payment.direction, payment.status, target) and payment.status == S.CREATED \
                and allowed(payment.direction, S.CREATED, S.PENDING) \
                and allowed(payment.direction, S.PENDING, target):
            path = [S.PENDING, target]
        current = payment
        for step in path:
            if current.status == step:
                continue
            if not allowed(current.direction, current.status, step):
                self._refused(current, step, source)
                if strict:
                    check(current.direction, current.status, step)
                return current
            now = self._clock.now()
            fields: dict[str, Any] = {"updated_at": now, **(changes or {} if step == target else {})}
            if step in (S.SUCCEEDED, S.FAILED, S.CANCELLED, S.EXPIRED, S.REFUNDED):
                fields.setdefault("next_check_at", None)
            transition = PaymentTransition(
                id=new_id(), payment_id=current.id, from_status=current.status, to_status=step,
                reason=reason if step == target else "implied by the provider's answer",
                source=source, at=now)
            async with self._uow_factory() as uow:
                won = await uow.payments.transition(current.id, current.status, transition, fields)
                if won and step in PAYMENT_EVENTS:
                    await uow.outbox.enqueue([payment_event(current, step, now)])
                await uow.commit()
            fresh = await self.load(current.id)
            if fresh is None:
                return current
            if not won:  # someone else changed it first; judge again from what is stored
                if fresh.status == target:
                    return fresh
                return await self.move(fresh, target, reason, source, changes, strict=strict) \
                    if allowed(fresh.direction, fresh.status, target) else fresh
            current = fresh
            log.info("payment status changed", extra={
                "payment_id": current.id, "provider": current.provider, "from": transition.from_status,
                "to": step.value, "source": source.value})
            self.count(f"transition_{step.value}", current.provider)
        return current

    def _refused(self, payment: Payment, target: PaymentStatus, source: TransitionSource) -> None:
        log.warning("payment transition refused", extra={
            "payment_id": payment.id, "provider": payment.provider,
            "from": payment.status.value, "to": target.value, "source": source.value})
        self.count("illegal_transition", payment.provider)

    async def apply_status(self, payment: Payment, status: ProviderStatus,
                           source: TransitionSource, claims: Claims = NO_CLAIMS) -> Payment:
        """Settle ``payment`` by an authenticated status answer (no change while pending)."""
        target = target_of(payment.direction, status.state)
        if target is None or payment.status == target:
            return payment
        changes: dict[str, Any] = {}
        reason = f"provider reports {status.state}"
        if target == S.SUCCEEDED:
            problem = mismatch(payment, status, claims)
            if problem is not None:
                log.warning("payment does not match our record", extra={
                    "payment_id": payment.id, "provider": payment.provider, "problem": problem})
                self.count(problem, payment.provider)
                return await self.move(payment, S.FAILED, problem, source,
                                       {"failure_reason": problem})
            if status.provider_transaction_id:
                changes["provider_transaction_id"] = status.provider_transaction_id[:255]
        elif status.reason:
            changes["failure_reason"] = status.reason[:500]
            reason = f"{reason}: {status.reason}"
        return await self.move(payment, target, reason[:500], source, changes)

