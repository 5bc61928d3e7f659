"""In-memory twins of the storage ports, for fast use-case tests and the contract suite.

Writes are staged in the unit of work and applied on commit, so a test sees the same
all-or-nothing behaviour as the SQL adapter.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from adapters.memory.fhir import FhirMemoryState, InMemoryFhirRepository
from adapters.memory.labs import InMemoryLabRepository, LabMemoryState
from adapters.memory.payments import InMemoryPaymentRepository, PaymentMemoryState
from adapters.memory.webhooks import InMemoryWebhookEventRepository, WebhookMemoryState
from resolvers.audit.model import AuditQuery, AuditRecord
from resolvers.directory.model import Organization
from resolvers.ids import new_id
from resolvers.mpi.model import Identifier, Patient, PatientQuery
from resolvers.notifications.model import batch_fanout
from resolvers.outbox.model import (
    DestinationDepth,
    NewOutboxMessage,
    OutboxMessage,
    OutboxQuery,
    OutboxStatus,
    PausedDestination,
    depths_from_groups,
)


@dataclass
class MemoryState:
    patients: dict[str, Patient] = field(default_factory=dict)
    organizations: dict[str, Organization] = field(default_factory=dict)
    audit: list[AuditRecord] = field(default_factory=list)
    outbox: dict[str, OutboxMessage] = field(default_factory=dict)
    leases: dict[str, datetime] = field(default_factory=dict)
    paused: dict[str, PausedDestination] = field(default_factory=dict)  # by destination
    fhir: FhirMemoryState = field(default_factory=FhirMemoryState)
    labs: LabMemoryState = field(default_factory=LabMemoryState)
    payments: PaymentMemoryState = field(default_factory=PaymentMemoryState)
    webhooks: WebhookMemoryState = field(default_factory=WebhookMemoryState)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class _Patients:
    def __init__(self, state: MemoryState, staged: dict[str, Patient]) -> None:
        self._state = state
        self._staged = staged

    def _all(self) -> dict[str, Patient]:
        return {**self._state.patients, **self._staged}

    async def get_many(self, ids: Sequence[str]) -> dict[str, Patient]:
        current = self._all()
        return {i: current[i] for i in ids if i in current}

    async def get_many_with_organizations(
            self, ids: Sequence[str]) -> tuple[dict[str, Patient], dict[str, Organization]]:
        found = await self.get_many(ids)
        organizations = self._state.organizations
        return found, {p.organization_id: organizations[p.organization_id]
                       for p in found.values()
                       if p.organization_id is not None and p.organization_id in organizations}

    async def find_by_identifier(self, identifier: Identifier) -> Patient | None:
        return next((p for p in self._all().values() if identifier in p.identifiers), None)

    async def add(self, patient: Patient) -> None:
        if patient.id in self._all():
            raise ValueError(f"duplicate patient id {patient.id}")
        self._staged[patient.id] = patient

    async def owners_of(self, identifiers: Sequence[Identifier]) -> dict[Identifier, str]:
        wanted = set(identifiers)
        return {i: p.id for p in self._all().values() for i in p.identifiers if i in wanted}

    async def add_many(self, patients: Sequence[tuple[Patient, str | None]]) -> None:
        for patient, _address in patients:  # no match index in memory
            await self.add(patient)

    async def update(self, patient: Patient, *, expected_version: int) -> bool:
        current = self._all().get(patient.id)
        if current is None or current.version != expected_version:
            return False
        self._staged[patient.id] = patient
        return True

    async def search(self, query: PatientQuery) -> list[Patient]:
        found = sorted(self._all().values(), key=lambda p: p.id)
        if query.identifier is not None:
            found = [p for p in found if query.identifier in p.identifiers]
        if query.family:
            prefix = query.family.lower()
            found = [p for p in found if (p.family or "").lower().startswith(prefix)]
        if query.organization_id:
            found = [p for p in found if p.organization_id == query.organization_id]
        if query.organization_ids is not None:
            found = [p for p in found if p.organization_id in query.organization_ids]
        if query.after:
            found = [p for p in found if p.id > query.after]
        return found[: query.limit]


class _Organizations:
    def __init__(self, state: MemoryState, staged: dict[str, Organization]) -> None:
        self._state = state
        self._staged = staged

    async def get_many(self, ids: Sequence[str]) -> dict[str, Organization]:
        current = {**self._state.organizations, **self._staged}
        return {i: current[i] for i in ids if i in current}

    async def add(self, organization: Organization) -> None:
        self._staged[organization.id] = organization

    async def update(self, organization: Organization) -> None:
        self._staged[organization.id] = organization

    async def descendants(self, ids: Sequence[str], *, max_depth: int = 16) -> set[str]:
        every = {**self._state.organizations, **self._staged}
        found = set(ids)
        frontier = set(ids)
        for _level in range(max_depth):
            frontier = {o.id for o in every.values() if o.part_of in frontier} - found
            if not frontier:
                break
            found |= frontier
        return found

    async def search(self, *, name: str | None, after: str | None, limit: int) -> list[Organization]:
        found = sorted({**self._state.organizations, **self._staged}.values(), key=lambda o: o.id)
        if name:
            found = [o for o in found if name.lower() in o.name.lower()]
        if after:
            found = [o for o in found if o.id > after]
        return found[:limit]


class _Audit:
    def __init__(self, state: MemoryState, staged: list[AuditRecord]) -> None:
        self._state = state
        self._staged = staged

    async def append(self, records: Sequence[AuditRecord]) -> None:
        self._staged.extend(records)

    async def search(self, query: AuditQuery) -> list[AuditRecord]:
        def keep(r: AuditRecord) -> bool:
            return all((
                query.subject is None or r.subject == query.subject,
                query.patient_id is None or r.patient_id == query.patient_id,
                query.resource_type is None or r.resource_type == query.resource_type,
                query.action is None or r.action == query.action,
                query.outcome is None or r.outcome == query.outcome,
                query.since is None or r.recorded_at >= query.since,
                query.until is None or r.recorded_at < query.until,
                query.after is None or r.id < query.after,
            ))
        return sorted(filter(keep, self._state.audit), key=lambda r: r.id, reverse=True)[: query.limit]


class _OutboxWriter:
    def __init__(self, state: MemoryState, staged: list[OutboxMessage],
                 now: Callable[[], datetime]) -> None:
        self._state = state
        self._staged = staged
        self._now = now

    async def enqueue(self, messages: Sequence[NewOutboxMessage]) -> list[str]:
        taken = {(m.destination, m.idempotency_key) for m in (*self._state.outbox.values(),
                                                               *self._staged)}
        ids = []
        now = self._now()
        for m in batch_fanout(messages):  # as the SQL writer does: a write's events, one row
            if (m.destination, m.idempotency_key) in taken:
                continue
            taken.add((m.destination, m.idempotency_key))
            message = OutboxMessage(
                id=new_id(), destination=m.destination, payload=m.payload,
                idempotency_key=m.idempotency_key, status=OutboxStatus.PENDING, attempts=0,
                next_attempt_at=now, created_at=now)
            self._staged.append(message)
            ids.append(message.id)
        return ids


class InMemoryUnitOfWork:
    def __init__(self, state: MemoryState, now: Callable[[], datetime]) -> None:
        self._state = state
        self._now = now

    async def __aenter__(self) -> Self:
        self._patients: dict[str, Patient] = {}
        self._organizations: dict[str, Organization] = {}
        self._audit: list[AuditRecord] = []
        self._outbox: list[OutboxMessage] = []
        self.patients = _Patients(self._state, self._patients)
        self.organizations = _Organizations(self._state, self._organizations)
        self.audit = _Audit(self._state, self._audit)
        self.outbox = _OutboxWriter(self._state, self._outbox, self._now)
        self._stage_copies()
        return self

    def _stage_copies(self) -> None:
        """FHIR, lab, payment and webhook writes go to copies of the committed state that
        replace it on commit; a rollback (or a commit) starts again from fresh copies, so
        nothing rolled back is committed later and nothing after a commit skips the next."""
        self._fhir_staged = copy.deepcopy(self._state.fhir)
        self.fhir = InMemoryFhirRepository(self._fhir_staged)
        self._labs_staged = copy.deepcopy(self._state.labs)
        self.labs = InMemoryLabRepository(self._labs_staged)
        self._payments_staged = copy.deepcopy(self._state.payments)
        self.payments = InMemoryPaymentRepository(self._payments_staged)
        self._webhooks_staged = WebhookMemoryState(dict(self._state.webhooks.events))
        self.webhooks = InMemoryWebhookEventRepository(self._webhooks_staged)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._discard_staged_rows()  # the staged copies go with this unit of work

    async def commit(self) -> None:
        self._state.patients.update(self._patients)
        self._state.organizations.update(self._organizations)
        self._state.audit.extend(self._audit)
        self._state.outbox.update({m.id: m for m in self._outbox})
        self._state.fhir = self._fhir_staged
        self._state.labs = self._labs_staged
        self._state.payments = self._payments_staged
        self._state.webhooks = self._webhooks_staged
        await self.rollback()

    async def rollback(self) -> None:
        self._discard_staged_rows()
        self._stage_copies()

    def _discard_staged_rows(self) -> None:
        self._patients.clear()
        self._organizations.clear()
        self._audit.clear()
        self._outbox.clear()


class InMemoryOutboxStore:
    def __init__(self, state: MemoryState) -> None:
        self._state = state
        self._leases = state.leases

    async def claim_due(self, *, now: datetime, limit: int, lease_until: datetime,
                        claim_token: str) -> list[OutboxMessage]:
        async with self._state.lock:
            paused = self._state.paused  # a paused destination's rows stay as they are
            due = sorted(
                (m for m in self._state.outbox.values()
                 if m.destination not in paused
                 and ((m.status == OutboxStatus.PENDING and m.next_attempt_at <= now)
                      or (m.status == OutboxStatus.IN_FLIGHT
                          and self._leases.get(m.id, now) <= now))),
                key=lambda m: m.next_attempt_at)[:limit]
            claimed = []
            for m in due:
                updated = replace(m, status=OutboxStatus.IN_FLIGHT, claim_token=claim_token)
                self._state.outbox[m.id] = updated
                self._leases[m.id] = lease_until
                claimed.append(updated)
            return claimed

    async def _finish(self, message_id: str, claim_token: str, **changes: object) -> bool:
        async with self._state.lock:
            m = self._state.outbox.get(message_id)
            if m is None or m.claim_token != claim_token or m.status != OutboxStatus.IN_FLIGHT:
                return False
            self._state.outbox[message_id] = replace(m, attempts=m.attempts + 1, **changes)  # type: ignore[arg-type]
            self._leases.pop(message_id, None)
            return True

    async def mark_delivered(self, message_id: str, claim_token: str, at: datetime) -> bool:
        return await self._finish(message_id, claim_token, status=OutboxStatus.DELIVERED,
                                  delivered_at=at, last_error=None)

    async def mark_delivered_many(self, message_ids: Sequence[str], claim_token: str,
                                  at: datetime) -> int:
        return sum([await self.mark_delivered(i, claim_token, at) for i in message_ids])

    async def mark_failed(self, message_id: str, claim_token: str, *, error: str,
                          next_attempt_at: datetime, dead: bool) -> bool:
        return await self._finish(
            message_id, claim_token, last_error=error, next_attempt_at=next_attempt_at,
            status=OutboxStatus.DEAD if dead else OutboxStatus.PENDING)

    async def replay(self, message_ids: Sequence[str] | None, now: datetime) -> int:
        count = 0
        async with self._state.lock:
            for m in list(self._state.outbox.values()):
                if m.status == OutboxStatus.DEAD and (message_ids is None or m.id in message_ids):
                    self._state.outbox[m.id] = replace(m, status=OutboxStatus.PENDING, attempts=0,
                                                       next_attempt_at=now, claim_token=None)
                    count += 1
        return count

    async def search(self, query: OutboxQuery) -> list[OutboxMessage]:
        found = sorted(self._state.outbox.values(), key=lambda m: m.id)
        if query.status:
            found = [m for m in found if m.status == query.status]
        if query.destination:
            found = [m for m in found if m.destination == query.destination]
        if query.after:
            found = [m for m in found if m.id > query.after]
        if query.failing:
            found = [m for m in found if m.last_error is not None]
        return found[: query.limit]

    async def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in OutboxStatus}
        for m in self._state.outbox.values():
            counts[m.status.value] += 1
        return counts

    async def depth_by_destination(self) -> list[DestinationDepth]:
        since = datetime.now(UTC) - timedelta(hours=1)
        undelivered: dict[tuple[str, str, bool], int] = {}
        delivered: dict[str, tuple[int, datetime | None]] = {}
        for m in self._state.outbox.values():
            if m.status == OutboxStatus.DELIVERED and m.delivered_at is not None:
                recent, last = delivered.get(m.destination, (0, None))
                delivered[m.destination] = (recent + (m.delivered_at >= since),
                                            max(m.delivered_at, last or m.delivered_at))
                continue
            key = (m.destination, m.status.value,
                   m.status == OutboxStatus.PENDING and m.last_error is not None)
            undelivered[key] = undelivered.get(key, 0) + 1
        return depths_from_groups(((*key, n) for key, n in undelivered.items()),
                                  ((d, recent, last) for d, (recent, last) in delivered.items()))
