"""In-memory twin of the PaymentRepository (staged in the unit of work like the others)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from resolvers.payments.model import (
    OPEN_STATUSES,
    DuplicatePayment,
    Payment,
    PaymentQuery,
    PaymentStatus,
    PaymentTransition,
)


@dataclass
class PaymentMemoryState:
    payments: dict[str, Payment] = field(default_factory=dict)
    transitions: list[PaymentTransition] = field(default_factory=list)


class InMemoryPaymentRepository:
    def __init__(self, state: PaymentMemoryState) -> None:
        self.state = state

    async def add(self, payment: Payment, created: PaymentTransition) -> None:
        for p in self.state.payments.values():
            if (p.created_by, p.idempotency_key) == (payment.created_by, payment.idempotency_key):
                raise DuplicatePayment(payment.idempotency_key)
        self.state.payments[payment.id] = payment
        self.state.transitions.append(created)

    async def get_many(self, ids: Sequence[str]) -> dict[str, Payment]:
        return {i: self.state.payments[i] for i in ids if i in self.state.payments}

    def _first(self, **match: Any) -> Payment | None:
        return next((p for p in self.state.payments.values()
                     if all(getattr(p, k) == v for k, v in match.items())), None)

    async def find_by_idempotency_key(self, created_by: str, key: str) -> Payment | None:
        return self._first(created_by=created_by, idempotency_key=key)

    async def find_by_callback_hash(self, token_hash: str) -> Payment | None:
        return self._first(callback_token_hash=token_hash)

    async def find_by_provider_reference(self, provider: str, reference: str) -> Payment | None:
        return self._first(provider=provider, provider_reference=reference)

    async def search(self, query: PaymentQuery) -> list[Payment]:
        found = sorted(self.state.payments.values(), key=lambda p: p.id, reverse=True)
        found = [p for p in found
                 if (query.provider is None or p.provider == query.provider)
                 and (query.status is None or p.status == query.status)
                 and (query.direction is None or p.direction == query.direction)
                 and (query.patient_ids is None or p.patient_id in query.patient_ids)
                 and (query.reference is None or p.reference == query.reference)
                 and (query.after is None or p.id < query.after)]
        return found[: query.limit]

    async def transition(self, payment_id: str, expected: PaymentStatus,
                         transition: PaymentTransition, changes: Mapping[str, Any]) -> bool:
        current = self.state.payments.get(payment_id)
        if current is None or current.status != expected:
            return False
        self.state.payments[payment_id] = replace(current, status=transition.to_status, **changes)
        self.state.transitions.append(transition)
        return True

    async def update(self, payment_id: str, changes: Mapping[str, Any], *,
                     expected_next_check: datetime | bool | None = False) -> bool:
        current = self.state.payments.get(payment_id)
        if current is None or (expected_next_check is not False
                               and current.next_check_at != expected_next_check):
            return False
        self.state.payments[payment_id] = replace(current, **changes)
        return True

    async def history(self, payment_ids: Sequence[str]) -> dict[str, list[PaymentTransition]]:
        grouped: dict[str, list[PaymentTransition]] = {p: [] for p in payment_ids}
        for t in sorted(self.state.transitions, key=lambda t: t.id):
            if t.payment_id in grouped:
                grouped[t.payment_id].append(t)
        return grouped

    async def due(self, now: datetime, limit: int) -> list[Payment]:
        found = [p for p in self.state.payments.values()
                 if p.next_check_at is not None and p.next_check_at <= now
                 and p.status in OPEN_STATUSES]
        return sorted(found, key=lambda p: p.next_check_at or now)[:limit]
