"""The transition table, exhaustively: every (from, to) pair for collections and payouts."""

from __future__ import annotations

import itertools

import pytest

from resolvers.payments.model import Direction, PaymentStatus
from resolvers.payments.state import IllegalTransition, allowed, check, is_final

S = PaymentStatus
LEGAL = {
    Direction.COLLECTION: {
        (S.CREATED, S.PENDING), (S.CREATED, S.FAILED), (S.CREATED, S.CANCELLED),
        (S.CREATED, S.EXPIRED), (S.PENDING, S.SUCCEEDED), (S.PENDING, S.FAILED),
        (S.PENDING, S.CANCELLED), (S.PENDING, S.EXPIRED), (S.SUCCEEDED, S.REFUNDED),
    },
    Direction.PAYOUT: {
        (S.CREATED, S.PENDING), (S.CREATED, S.FAILED), (S.PENDING, S.SUCCEEDED),
        (S.PENDING, S.FAILED),
    },
}
PAIRS = [(d, a, b) for d in Direction for a, b in itertools.product(S, S)]


@pytest.mark.parametrize(("direction", "old", "new"), PAIRS,
                         ids=[f"{d.value}:{a.value}->{b.value}" for d, a, b in PAIRS])
def test_every_pair(direction: Direction, old: PaymentStatus, new: PaymentStatus) -> None:
    legal = (old, new) in LEGAL[direction]
    assert allowed(direction, old, new) is legal
    if legal:
        check(direction, old, new)
    else:
        with pytest.raises(IllegalTransition) as info:
            check(direction, old, new)
        assert info.value.details == {"from": old.value, "to": new.value}


def test_final_states() -> None:
    assert {s for s in S if is_final(Direction.COLLECTION, s)} == {
        S.SUCCEEDED, S.FAILED, S.CANCELLED, S.EXPIRED, S.REFUNDED}
    assert {s for s in S if not is_final(Direction.PAYOUT, s)} == {S.CREATED, S.PENDING}
