"""The catalogue events of payments (resolvers/notifications): a final status, written in
the transaction of the transition. The payment's id, provider and status only."""

from __future__ import annotations

from datetime import datetime

from resolvers.notifications.events import webhook_event
from resolvers.outbox.model import NewOutboxMessage
from resolvers.payments.model import Payment, PaymentStatus

S = PaymentStatus
PAYMENT_EVENTS = {S.SUCCEEDED: "payment.succeeded", S.FAILED: "payment.failed",
                  S.CANCELLED: "payment.failed", S.EXPIRED: "payment.failed",
                  S.REFUNDED: "payment.refunded"}


def payment_event(payment: Payment, status: PaymentStatus, at: datetime) -> NewOutboxMessage:
    return webhook_event(PAYMENT_EVENTS[status], {
        "payment_id": payment.id, "provider": payment.provider, "status": status.value},
        at, key=f"{payment.id}:{status.value}")
