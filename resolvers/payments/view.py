"""What the payment use cases answer: one view of a payment that REST and GraphQL both render.

The refunded amount is worked out here, once. REST used to take it from the refund rows and
GraphQL from the payment's running total, so the two surfaces could answer differently for
the same payment (a refund Stripe confirmed before its ``charge.refunded`` event raised the
running total).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from resolvers.payments.model import Payment, PaymentTransition
from resolvers.payments.stripe_model import Refund, RefundStatus


def refunded_total(payment: Payment, refunds: Sequence[Refund]) -> int:
    """What is refunded for sure: Stripe's running total, or our confirmed refunds."""
    confirmed = sum(r.amount_minor for r in refunds if r.status == RefundStatus.SUCCEEDED)
    return max(payment.refunded_minor, confirmed)


@dataclass(frozen=True)
class PaymentView:
    payment: Payment
    refunded_minor: int  # refunded_total(payment, refunds): never read it off the payment
    history: tuple[PaymentTransition, ...] = ()  # filled by the single-payment read only
    refunds: tuple[Refund, ...] = ()
    replayed: bool = False  # an idempotent repeat of an earlier request


def payment_view(payment: Payment, refunds: Sequence[Refund] = (), *,
                 history: Sequence[PaymentTransition] = (), replayed: bool = False) -> PaymentView:
    return PaymentView(payment=payment, refunded_minor=refunded_total(payment, refunds),
                       history=tuple(history), refunds=tuple(refunds), replayed=replayed)
