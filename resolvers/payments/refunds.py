"""Refunding a succeeded Stripe payment through Stripe's Refund API.

1. Refusals first: not a Stripe payment (mobile money: 422, their APIs offer no refund), not
   succeeded (409), already refunded or nothing left to refund (409), amount larger than
   what remains (422), no PaymentIntent or charge known (422), Stripe API not configured (422).
2. The caller's ``Idempotency-Key`` (scoped to the caller) is looked up: the same key and body
   answer the recorded refund (and, if Stripe never confirmed it, send it again with the SAME
   Stripe idempotency key: one refund however often it is retried); another body is a 409.
3. The refund is committed as ``requested`` with its Stripe idempotency key BEFORE Stripe is
   called, with ``metadata.cari_refund_id``/``cari_payment_id`` so Stripe's events find it.
4. Stripe accepts -> ``pending`` with the Stripe refund id (the payment does not move: the
   signed ``charge.refunded`` / ``refund.*`` events do, see ``stripe_refund_events``); Stripe
   refuses -> ``failed`` and 409/422; Stripe unreachable -> stays ``requested``, 503 (surely
   not sent) or 502 (outcome unknown); retry with the same key.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from resolvers.clock import Clock
from resolvers.errors import Conflict, DomainError, InvalidInput
from resolvers.ids import new_id
from resolvers.payments.initiate import IdempotencyConflict, check_idempotency_key
from resolvers.payments.model import Payment, PaymentStatus
from resolvers.payments.providers import ProviderRejected, ProviderUnavailable
from resolvers.payments.state import check
from resolvers.payments.stripe_model import (
    FINAL_REFUNDS,
    OPEN_REFUNDS,
    REFUND_REASONS,
    DuplicateRefund,
    Refund,
    RefundStatus,
    StripeApiHolder,
    StripeStore,
)
from resolvers.payments.view import refunded_total
from resolvers.principal import Caller

log = logging.getLogger("cari.payments")
S = PaymentStatus
ALREADY_REFUNDED = frozenset({"charge_already_refunded"})


class UpstreamUnavailable(DomainError):
    """Stripe could not be reached; nothing was sent (503)."""

    code = "upstream_unavailable"


class UpstreamUnknown(DomainError):
    """Stripe's answer was lost or was an error: the outcome is unknown (502)."""

    code = "bad_gateway"


@dataclass(frozen=True)
class RefundView:
    refund: Refund
    payment: Payment
    replayed: bool = False


def _problem(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, details=[{"field": field, "message": message}])


def refundable(payment: Payment, refunds: list[Refund]) -> int:
    """What may still be refunded: the amount less what is refunded or on its way."""
    in_flight = sum(r.amount_minor for r in refunds if r.status in OPEN_REFUNDS)
    return payment.amount_minor - refunded_total(payment, refunds) - in_flight


def stripe_target(payment: Payment) -> tuple[str | None, str | None]:
    """(payment_intent, charge) to refund; Stripe accepts either."""
    reference = payment.provider_reference or ""
    if reference.startswith("pi_"):
        return reference, None
    transaction = payment.provider_transaction_id or ""
    if transaction.startswith("pi_"):
        return transaction, None
    if transaction.startswith(("ch_", "py_")):
        return None, transaction
    return None, None


class StripeRefunds:
    def __init__(self, store: StripeStore, api: StripeApiHolder, clock: Clock) -> None:
        self._store = store
        self._api = api
        self._clock = clock

    async def request(self, caller: Caller, payment: Payment, amount: int | None,
                      reason: str | None, key: str | None) -> RefundView:
        """``payment`` was read by the caller (authorised and audited by the use case)."""
        if payment.provider != "stripe":
            check(payment.direction, payment.status, S.REFUNDED)  # 409 unless succeeded
            raise _problem("provider", f"{payment.provider} does not support refunds through "
                           "this gateway (its API offers no refund); refund the payer directly")
        key = check_idempotency_key(key)
        if amount is not None and (isinstance(amount, bool) or amount <= 0):
            raise _problem("amount", "amount must be a positive whole number of minor units")
        if reason is not None and reason not in REFUND_REASONS:
            raise _problem("reason", f"reason must be one of {', '.join(REFUND_REASONS)}")
        digest = hashlib.sha256(json.dumps([payment.id, amount, reason]).encode()).hexdigest()
        first = await self._store.refund_by_key(caller.principal.subject, key)
        if first is not None:
            return await self._replay(first, payment, digest)
        refunds = (await self._store.refunds_of([payment.id]))[payment.id]
        self._check(payment, refunds, amount)
        api = self._api.api
        if api is None:
            raise _problem("provider", "Stripe refunds are not configured on this gateway "
                           "(CARI_STRIPE_API_KEY)")
        now = self._clock.now()
        refund_id = new_id()
        refund = Refund(
            id=refund_id, payment_id=payment.id,
            amount_minor=amount if amount is not None else refundable(payment, refunds),
            currency=payment.currency, reason=reason, status=RefundStatus.REQUESTED,
            created_by=caller.principal.subject, idempotency_key=key, request_hash=digest,
            stripe_idempotency_key=f"cari-refund-{refund_id}", stripe_refund_id=None,
            failure_reason=None, created_at=now, updated_at=now)
        try:
            await self._store.add_refund(refund)
        except DuplicateRefund:  # the same key, concurrently: answer what the winner stored
            winner = await self._store.refund_by_key(caller.principal.subject, key)
            if winner is None:
                raise Conflict("the same Idempotency-Key is being used concurrently; retry") \
                    from None
            return await self._replay(winner, payment, digest)
        log.info("stripe refund requested", extra={"payment_id": payment.id,
                                                   "refund_id": refund.id})
        return RefundView(refund=await self._send(refund, payment), payment=payment)

    @staticmethod
    def _check(payment: Payment, refunds: list[Refund], amount: int | None) -> None:
        if payment.status == S.REFUNDED:
            raise Conflict("this payment is already refunded in full",
                           details={"status": payment.status.value})
        if payment.status != S.SUCCEEDED:
            raise Conflict(f"only a succeeded payment can be refunded; this one is "
                           f"{payment.status.value}", details={"status": payment.status.value})
        left = refundable(payment, refunds)
        if left <= 0:
            raise Conflict("nothing is left to refund on this payment (refunded or refunds "
                           "pending)", details={"refundable": max(0, left)})
        if amount is not None and amount > left:
            raise _problem("amount", f"amount {amount} is larger than what can still be "
                           f"refunded ({left} {payment.currency} minor units)")
        if stripe_target(payment) == (None, None):
            raise _problem("provider", "no Stripe PaymentIntent or charge is known for this "
                           "payment yet; refund it in Stripe")

    async def _replay(self, first: Refund, payment: Payment, digest: str) -> RefundView:
        if first.request_hash != digest:
            raise IdempotencyConflict(
                "this Idempotency-Key was used for a different refund request",
                details=[{"field": "Idempotency-Key", "message": "reused with another body"}])
        if first.status == RefundStatus.REQUESTED:  # never confirmed by Stripe: ask again
            return RefundView(refund=await self._send(first, payment), payment=payment)
        if first.status in FINAL_REFUNDS and first.stripe_refund_id is None:
            self._refusal(first.failure_reason or "refused", first.failure_reason or "")
        return RefundView(refund=first, payment=payment, replayed=True)

    async def _send(self, refund: Refund, payment: Payment) -> Refund:
        api = self._api.api
        if api is None:
            raise _problem("provider", "Stripe refunds are not configured on this gateway")
        payment_intent, charge = stripe_target(payment)
        try:
            ack = await api.create_refund(
                payment_intent=payment_intent, charge=charge, amount_minor=refund.amount_minor,
                reason=refund.reason, idempotency_key=refund.stripe_idempotency_key,
                metadata={"cari_refund_id": refund.id, "cari_payment_id": payment.id})
        except ProviderRejected as exc:
            await self._store.update_refund(refund.id, {
                "status": RefundStatus.FAILED, "failure_reason": f"{exc.code}: {exc.message}"[:500],
                "updated_at": self._clock.now()}, expected=[RefundStatus.REQUESTED])
            self._refusal(exc.code, exc.message)
        except ProviderUnavailable as exc:
            log.warning("stripe refund not confirmed", extra={
                "payment_id": payment.id, "refund_id": refund.id, "request_sent": exc.request_sent})
            retry = ("the refund is recorded; retry with the same Idempotency-Key (Stripe "
                     "receives the same idempotency key, so it refunds once)")
            if exc.request_sent:
                raise UpstreamUnknown(f"Stripe did not confirm the refund ({exc}); {retry}",
                                      details={"refund_id": refund.id}) from None
            raise UpstreamUnavailable(f"Stripe is unavailable ({exc}); {retry}",
                                      details={"refund_id": refund.id}) from None
        status = RefundStatus.FAILED if ack.status in ("failed", "canceled") else RefundStatus.PENDING
        changes: dict[str, object] = {"status": status, "stripe_refund_id": ack.stripe_refund_id,
                                      "updated_at": self._clock.now()}
        try:
            await self._store.update_refund(refund.id, changes, expected=[RefundStatus.REQUESTED])
        except DuplicateRefund:
            # A signed refund event recorded this Stripe refund first (as an outside refund):
            # it is ours; keep the event's row and mark this one as its duplicate.
            await self._store.update_refund(refund.id, {
                "status": RefundStatus.CANCELED, "failure_reason":
                f"duplicate of {ack.stripe_refund_id} (recorded from its event)",
                "updated_at": self._clock.now()}, expected=[RefundStatus.REQUESTED])
        return await self._store.get_refund(refund.id) or refund

    @staticmethod
    def _refusal(code: str, message: str) -> None:
        code = code.split(":", 1)[0]
        if code in ALREADY_REFUNDED:
            raise Conflict(f"Stripe refused the refund: {message}", details={"stripe_code": code})
        raise InvalidInput(f"Stripe refused the refund: {message}",
                           details=[{"field": "amount" if code == "amount_too_large"
                                     else "payment", "message": code}])
