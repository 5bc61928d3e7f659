"""The payment state machine: which status may follow which, for collections and payouts.

Collections (money in)::

    created   -> pending | failed | cancelled | expired
    pending   -> succeeded | failed | cancelled | expired
    succeeded -> refunded
    failed, cancelled, expired, refunded: final

Payouts (money out)::

    created   -> pending | failed
    pending   -> succeeded | failed
    succeeded, failed: final

A payout is never cancelled or expired by us: once a B2C/disbursement request may have
reached the provider, its outcome is only learnt from the provider. A queue timeout
(M-Pesa ``QueueTimeOutURL``) leaves the payout ``pending`` (outcome unknown) and triggers a
status query; it is never re-sent.

Every change is a compare-and-set in storage (``UPDATE ... WHERE id = :id AND status = :old``)
so that of many concurrent attempts to apply the same change exactly one wins. A transition
that is not in the table is refused (:class:`IllegalTransition`) and never applied; a late
callback that contradicts a final status is therefore logged for review, not applied.
"""

from __future__ import annotations

from collections.abc import Mapping

from resolvers.errors import Conflict
from resolvers.payments.model import Direction, PaymentStatus

S = PaymentStatus

COLLECTION_TRANSITIONS: Mapping[PaymentStatus, frozenset[PaymentStatus]] = {
    S.CREATED: frozenset({S.PENDING, S.FAILED, S.CANCELLED, S.EXPIRED}),
    S.PENDING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.EXPIRED}),
    S.SUCCEEDED: frozenset({S.REFUNDED}),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REFUNDED: frozenset(),
}

PAYOUT_TRANSITIONS: Mapping[PaymentStatus, frozenset[PaymentStatus]] = {
    S.CREATED: frozenset({S.PENDING, S.FAILED}),
    S.PENDING: frozenset({S.SUCCEEDED, S.FAILED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REFUNDED: frozenset(),
}


class IllegalTransition(Conflict):
    """Refused: the transition table does not allow it (409)."""

    def __init__(self, direction: Direction, old: PaymentStatus, new: PaymentStatus) -> None:
        super().__init__(f"a {direction.value} cannot go from {old.value} to {new.value}",
                         details={"from": old.value, "to": new.value})
        self.old = old
        self.new = new


def table(direction: Direction) -> Mapping[PaymentStatus, frozenset[PaymentStatus]]:
    return COLLECTION_TRANSITIONS if direction == Direction.COLLECTION else PAYOUT_TRANSITIONS


def allowed(direction: Direction, old: PaymentStatus, new: PaymentStatus) -> bool:
    return new in table(direction)[old]


def check(direction: Direction, old: PaymentStatus, new: PaymentStatus) -> None:
    if not allowed(direction, old, new):
        raise IllegalTransition(direction, old, new)


def is_final(direction: Direction, status: PaymentStatus) -> bool:
    return not table(direction)[status] or status == S.SUCCEEDED
