"""Ports: what use cases need from the world. Adapters implement them; fakes too.

A unit of work spans one transaction: business rows, audit records and outbox rows
written through it commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from resolvers.audit.model import AuditQuery, AuditRecord
from resolvers.directory.model import Organization
from resolvers.fhir.ports import FhirRepository
from resolvers.labs.records import LabRepository
from resolvers.mpi.model import Identifier, Patient, PatientQuery
from resolvers.outbox.model import NewOutboxMessage, OutboxMessage, OutboxQuery
from resolvers.payments.repository import PaymentRepository
from resolvers.webhooks.ports import WebhookEventRepository


class PatientRepository(Protocol):
    async def get_many(self, ids: Sequence[str]) -> dict[str, Patient]: ...
    async def find_by_identifier(self, identifier: Identifier) -> Patient | None: ...
    async def add(self, patient: Patient) -> None: ...
    async def update(self, patient: Patient, *, expected_version: int) -> bool:
        """Write ``patient`` if the stored version is still ``expected_version``."""
        ...
    async def search(self, query: PatientQuery) -> list[Patient]: ...


class OrganizationRepository(Protocol):
    async def get_many(self, ids: Sequence[str]) -> dict[str, Organization]: ...
    async def add(self, organization: Organization) -> None: ...
    async def update(self, organization: Organization) -> None: ...
    async def search(self, *, name: str | None, after: str | None, limit: int) -> list[Organization]: ...
    async def descendants(self, ids: Sequence[str], *, max_depth: int = 16) -> set[str]:
        """These organizations and all below them (part_of, transitively)."""
        ...


class AuditLog(Protocol):
    async def append(self, records: Sequence[AuditRecord]) -> None: ...
    async def search(self, query: AuditQuery) -> list[AuditRecord]: ...


class OutboxWriter(Protocol):
    async def enqueue(self, messages: Sequence[NewOutboxMessage]) -> list[str]:
        """Add messages; a repeated (destination, idempotency_key) is ignored. Returns ids."""
        ...


class UnitOfWork(Protocol):
    @property
    def patients(self) -> PatientRepository: ...
    @property
    def organizations(self) -> OrganizationRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def outbox(self) -> OutboxWriter: ...
    @property
    def fhir(self) -> FhirRepository: ...
    @property
    def labs(self) -> LabRepository: ...
    @property
    def webhooks(self) -> WebhookEventRepository: ...
    @property
    def payments(self) -> PaymentRepository: ...

    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class OutboxStore(Protocol):
    """What the outbox worker and the admin routes need; each call is its own transaction."""

    async def claim_due(
        self, *, now: datetime, limit: int, lease_until: datetime, claim_token: str
    ) -> list[OutboxMessage]: ...
    async def mark_delivered(self, message_id: str, claim_token: str, at: datetime) -> bool: ...
    async def mark_failed(
        self,
        message_id: str,
        claim_token: str,
        *,
        error: str,
        next_attempt_at: datetime,
        dead: bool,
    ) -> bool: ...
    async def replay(self, message_ids: Sequence[str] | None, now: datetime) -> int:
        """Move dead letters (all, or the given ones) back to pending; returns the count."""
        ...
    async def search(self, query: OutboxQuery) -> list[OutboxMessage]: ...
    async def counts(self) -> dict[str, int]: ...


class Clock(Protocol):
    def now(self) -> datetime: ...
