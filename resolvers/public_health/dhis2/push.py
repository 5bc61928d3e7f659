"""Pushing a dataValueSet to a configured DHIS2 instance, through the durable outbox.

``push`` checks the target (a configured instance, named by its URL, that the outbound
allow-list admits), builds the data values as the export does, and keeps them with the push
in the same transaction as its outbox message: an outage delays the push and loses nothing.
It answers at once with the push (state ``queued``).

:class:`Dhis2PushDelivery` is the outbox destination. It sends the kept values and records
DHIS2's answer on the push:
- SUCCESS without conflicts: ``success`` (values unchanged since the last push come back
  ignored, which is no failure); conflicts (DHIS2's 409): ``partial``, the summary holding
  each conflict with its ``E7xxx`` code, value by value;
- 401, 403, 400, 415 (:class:`Dhis2Refused`): ``dead``, with DHIS2's reason; the outbox
  dead-letters the message;
- unreachable, slow, 5xx (:class:`Dhis2Unavailable`): ``retrying``; the outbox sends again
  with backoff, and after its last attempt the push is ``dead`` ("gave up after N attempts").
Re-pushing the same data set, period and org unit sends the same data elements, category
option combos, periods and org units, so DHIS2 updates those values and creates nothing new
(``CREATE_AND_UPDATE``, the default strategy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.errors import InvalidInput, NotFound
from resolvers.ids import new_id
from resolvers.outbox.delivery import PermanentDeliveryError
from resolvers.outbox.model import NewOutboxMessage, OutboxMessage
from resolvers.principal import Caller, Role, require_role
from resolvers.public_health.dhis2.export import Dhis2Export
from resolvers.public_health.dhis2.model import (
    Dhis2Refused,
    Dhis2Unavailable,
    ImportStrategy,
    PushRecord,
    PushState,
    data_value_set_of,
    summary_view,
)
from resolvers.public_health.dhis2.ports import Dhis2Instance, OutboundGuard, PushStore

DHIS2_DESTINATION = "dhis2"
I = TypeVar("I")  # noqa: E741  # the instance a delivery sends to
AUDIT_TYPE = "Dhis2Push"


class Dhis2Pushes:
    def __init__(self, export: Dhis2Export, store: PushStore,
                 instances: Mapping[str, Dhis2Instance], guard: OutboundGuard,
                 audit: AuditTrail, now: Callable[[], datetime]) -> None:
        self._export = export
        self._store = store
        self._instances = instances
        self._guard = guard
        self._audit = audit
        self._now = now

    async def push(self, caller: Caller, *, dhis2_url: str, data_set: str,
                   period: str | None = None, org_unit: str | None = None,
                   dry_run: bool = False,
                   strategy: ImportStrategy = ImportStrategy.CREATE_AND_UPDATE) -> PushRecord:
        require_role(caller, Role.PUBLIC_HEALTH)
        url = dhis2_url.strip().rstrip("/")
        if url not in self._instances:
            configured = ", ".join(sorted(self._instances)) or "none"
            raise InvalidInput(
                f"dhis2_url must name a DHIS2 instance configured on the gateway "
                f"(configured: {configured})",
                details=[{"field": "dhis2_url", "message": "not a configured instance"}])
        await self._guard.admit(url)
        if not data_set:
            raise InvalidInput("dataset is required",
                               details=[{"field": "dataset", "message": "required"}])
        (part,) = await self._export.build(data_set, period, org_unit)
        now = self._now()
        push = PushRecord(
            id=new_id(), instance_url=url, data_set=part.data_set.key, period=part.period.id,
            org_unit=org_unit or None, dry_run=dry_run, import_strategy=strategy,
            state=PushState.QUEUED, payload=part.values.as_json(),
            created_by=caller.principal.subject, created_at=now, updated_at=now)
        await self._store.create(push, NewOutboxMessage(
            destination=DHIS2_DESTINATION, payload={"push_id": push.id},
            idempotency_key=push.id))
        await self._audit.record(audit_records(
            caller, action=AuditAction.CREATE, resource_type=AUDIT_TYPE,
            targets=[(push.id, None)], outcome=AuditOutcome.SUCCESS, at=now))
        return push

    async def get(self, caller: Caller, push_id: str) -> PushRecord:
        require_role(caller, Role.PUBLIC_HEALTH)
        found = await self._store.get(push_id)
        if found is None:
            raise NotFound(f"no DHIS2 push {push_id!r}")
        return found


class PushDelivery(Generic[I]):
    """An outbox destination that sends one stored push per message to its configured
    instance: a push whose instance is gone, or that DHIS2 refuses, is dead; an outage is
    retried until the outbox's last attempt (``max_attempts``) makes it dead too. Subclasses
    say how the push is sent and what its answer means (``_send``)."""

    def __init__(self, store: PushStore, instances: Mapping[str, I],
                 now: Callable[[], datetime], *, max_attempts: int | None = None) -> None:
        self._store = store
        self._instances = instances
        self._now = now
        self._max_attempts = max_attempts

    async def _send(self, instance: I, push: PushRecord) -> tuple[PushState, dict[str, Any]]:
        raise NotImplementedError

    async def deliver(self, message: OutboxMessage) -> None:
        push_id = str(message.payload.get("push_id") or "")
        push = await self._store.get(push_id)
        if push is None:
            raise PermanentDeliveryError(f"no DHIS2 push {push_id!r}")
        instance = self._instances.get(push.instance_url)
        if instance is None:
            reason = "the DHIS2 instance is no longer configured on the gateway"
            await self._store.record(push.id, state=PushState.DEAD, at=self._now(),
                                     error=reason)
            raise PermanentDeliveryError(reason)
        try:
            state, summary = await self._send(instance, push)
        except Dhis2Refused as exc:
            await self._store.record(push.id, state=PushState.DEAD, at=self._now(),
                                     error=str(exc))
            raise PermanentDeliveryError(str(exc)) from None
        except Dhis2Unavailable as exc:
            last = self._max_attempts is not None and message.attempts + 1 >= self._max_attempts
            await self._store.record(
                push.id, state=PushState.DEAD if last else PushState.RETRYING, at=self._now(),
                error=f"gave up after {message.attempts + 1} attempts: {exc}" if last
                else str(exc))
            raise
        await self._store.record(push.id, state=state, at=self._now(), summary=summary)


class Dhis2PushDelivery(PushDelivery[Dhis2Instance]):
    """The outbox destination ``dhis2``: one data value set per message."""

    async def _send(self, instance: Dhis2Instance,
                    push: PushRecord) -> tuple[PushState, dict[str, Any]]:
        summary = await instance.push_data_values(
            data_value_set_of(push.payload), dry_run=push.dry_run,
            strategy=push.import_strategy)
        # Unchanged values come back ignored without a conflict: still a success.
        clean = summary.status == "SUCCESS" and not summary.conflicts
        return (PushState.SUCCESS if clean else PushState.PARTIAL), summary_view(summary)
