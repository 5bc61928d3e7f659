"""Bring a resource's scheduled messages in line with its current version.

Runs as the outbox handler of a watched type's notices (resolvers/fhir/writer.py watchers),
so the write and the notice commit together and a crash between the write and the
scheduling only delays it: the worker retries the notice, and every step is idempotent
(cancel by prefix, schedule by key). Whatever version a notice names, the current one is
acted on (resolvers/messaging_uses/runs.py).

Each reconciliation reads patient data (the resource and its history) for the patient: it is
audited as a read by ``system:patient-messaging``, purpose the kind of reminder.

A notice handled while a newer version commits could schedule the older run after the
newer notice cancelled it; the handler reads the version again after scheduling and goes
round once more when it moved, so the later state wins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditWriter, audit_records
from resolvers.clock import Clock
from resolvers.fhir.model import StoredResource
from resolvers.fhir.ports import FhirUnitOfWorkFactory
from resolvers.fhir.search_params import patient_of
from resolvers.messaging.model import MessageRequest
from resolvers.messaging.ports import MessageScheduler
from resolvers.messaging_uses.model import MessagingUsesConfig
from resolvers.messaging_uses.runs import Signature, run_prefix, runs_of
from resolvers.outbox.delivery import PermanentDeliveryError
from resolvers.outbox.model import OutboxMessage
from resolvers.principal import Caller, Principal

log = logging.getLogger("cari.messaging_uses")

MAX_ROUNDS = 3
SYSTEM = Principal(subject="system:patient-messaging", roles=frozenset())

Planner = Callable[[dict[str, Any], int, datetime, MessagingUsesConfig], list[MessageRequest]]
Explainer = Callable[[dict[str, Any]], str | None]  # why a version calls for nothing


@dataclass(frozen=True)
class MessagePlan:
    """What one watched type calls for: the key kind, what its runs depend on, its
    messages."""

    resource_type: str
    kind: str  # key prefix: appointment, refill
    signature: Signature
    messages: Planner
    explain: Explainer | None = None


@dataclass(frozen=True)
class Reconciled:
    cancelled: int
    scheduled: int


class Reconciler:
    """The outbox DeliveryHandler of one watched type."""

    def __init__(self, plan: MessagePlan, reads: FhirUnitOfWorkFactory,
                 scheduler: MessageScheduler, clock: Clock, config: MessagingUsesConfig,
                 audit: AuditWriter) -> None:
        self._plan = plan
        self._reads = reads
        self._scheduler = scheduler
        self._clock = clock
        self._config = config
        self._audit = audit
        self._caller = Caller(SYSTEM, surface="outbox", purpose=f"{plan.kind} reminders")

    async def deliver(self, message: OutboxMessage) -> None:
        rid = message.payload.get("id")
        if message.payload.get("resource_type") != self._plan.resource_type or not isinstance(
                rid, str) or not rid:
            raise PermanentDeliveryError(f"not a {self._plan.resource_type} notice")
        await self.reconcile(rid)

    async def _versions(self, rid: str) -> list[StoredResource]:
        async with self._reads() as uow:
            return await uow.fhir.history(self._plan.resource_type, rid)

    async def reconcile(self, rid: str) -> Reconciled:
        cancelled = scheduled = 0
        versions = await self._versions(rid)
        await self._audit.record(audit_records(
            self._caller, action=AuditAction.READ, resource_type=self._plan.resource_type,
            targets=[(rid, next((patient_of(v.document) for v in versions if v.document),
                                None))],
            outcome=AuditOutcome.SUCCESS if versions else AuditOutcome.NOT_FOUND,
            at=self._clock.now()))
        for _round in range(MAX_ROUNDS):
            done = await self._once(rid, versions)
            cancelled += done.cancelled
            scheduled += done.scheduled
            again = await self._versions(rid)
            if _newest(again) == _newest(versions):
                break
            versions = again
        return Reconciled(cancelled, scheduled)

    async def _once(self, rid: str, versions: Sequence[StoredResource]) -> Reconciled:
        plan = self._plan
        runs = runs_of(versions, plan.signature)
        cancelled = 0
        if runs.current is None:  # nothing wanted any more: every run's messages go
            cancelled = await self._scheduler.cancel(f"{plan.kind}:{rid}:")
            newest = max(versions, key=lambda v: v.version, default=None)
            if plan.explain is not None and newest is not None and newest.document:
                log.info("no %s messages", plan.kind, extra={
                    "resource_id": rid, "version": newest.version,
                    "reason": plan.explain(newest.document)})
            return Reconciled(cancelled, 0)
        for stale in runs.stale:
            cancelled += await self._scheduler.cancel(run_prefix(plan.kind, rid, stale))
        current = max(versions, key=lambda v: v.version)
        requests = plan.messages(current.document, runs.current, self._clock.now(),
                                 self._config)
        if requests:
            await self._scheduler.schedule(requests)
        return Reconciled(cancelled, len(requests))


def _newest(versions: Sequence[StoredResource]) -> int:
    return max((v.version for v in versions), default=0)
