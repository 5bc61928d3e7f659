"""The storage port for payments (SQL adapter and in-memory twin implement it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from resolvers.audit.ports import AuditLog
from resolvers.outbox.ports import OutboxWriter
from resolvers.payments.model import (
    Payment,
    PaymentQuery,
    PaymentStatus,
    PaymentTransition,
)
from resolvers.transaction import Transaction


class PaymentRepository(Protocol):
    async def add(self, payment: Payment, created: PaymentTransition) -> None:
        """Insert; raise ``DuplicatePayment`` if (created_by, idempotency_key) exists."""
        ...

    async def get_many(self, ids: Sequence[str]) -> dict[str, Payment]: ...

    async def find_by_idempotency_key(self, created_by: str, key: str) -> Payment | None: ...

    async def find_by_callback_hash(self, token_hash: str) -> Payment | None: ...

    async def find_by_provider_reference(self, provider: str, reference: str) -> Payment | None: ...

    async def search(self, query: PaymentQuery) -> list[Payment]: ...

    async def transition(self, payment_id: str, expected: PaymentStatus, transition: PaymentTransition,
                         changes: Mapping[str, Any]) -> bool:
        """Compare-and-set: apply ``transition`` (and ``changes``) only if the stored status is
        still ``expected``; record the history row only then. False: someone else won."""
        ...

    async def update(self, payment_id: str, changes: Mapping[str, Any], *,
                     expected_next_check: datetime | bool | None = False) -> bool:
        """Change non-status fields. With ``expected_next_check`` (not False) only if the stored
        ``next_check_at`` still equals it: the reconciler's claim on a payment."""
        ...

    async def history(self, payment_ids: Sequence[str]) -> dict[str, list[PaymentTransition]]: ...

    async def due(self, now: datetime, limit: int) -> list[Payment]:
        """Open payments whose ``next_check_at`` has come, oldest first."""
        ...


class PatientLookup(Protocol):
    """What payments ask of the MPI: does a patient exist."""

    async def get_many(self, ids: Sequence[str]) -> Mapping[str, object]: ...


class PaymentsUnitOfWork(Transaction, Protocol):
    @property
    def payments(self) -> PaymentRepository: ...
    @property
    def patients(self) -> PatientLookup: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def outbox(self) -> OutboxWriter: ...  # webhook events, written with the transition


PaymentsUnitOfWorkFactory = Callable[[], PaymentsUnitOfWork]
