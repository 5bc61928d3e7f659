"""The delivery log of an endpoint (attempts, status codes, response times) and replays.

Replaying one delivery sends the same event again (same ``webhook-id``, a fresh timestamp and
signature) on a fresh schedule. Replaying "since" a time does that for every delivery of the
endpoint created since then that did not succeed and is not already queued: exhausted,
failed, and skipped while the endpoint was disabled.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.clock import Clock
from resolvers.errors import Conflict, NotFound
from resolvers.ids import new_id
from resolvers.notifications.endpoints import MANAGERS, MAX_PAGE, RESOURCE
from resolvers.notifications.fanout import delivery_message
from resolvers.notifications.model import Delivery, DeliveryDetail, DeliveryQuery, DeliveryStatus
from resolvers.notifications.ports import WebhookStore
from resolvers.principal import Caller, require_role

MAX_REPLAY = 10_000  # deliveries one "since" replay queues


class DeliveryLog:
    def __init__(self, store: WebhookStore, audit: AuditTrail, clock: Clock) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock

    async def _endpoint(self, caller: Caller, endpoint_id: str, action: AuditAction) -> None:
        require_role(caller, *MANAGERS)
        found = await self._store.get_endpoint(endpoint_id) is not None
        await self._audit.record(audit_records(
            caller, action=action, resource_type=RESOURCE, targets=[(endpoint_id, None)],
            outcome=AuditOutcome.SUCCESS if found else AuditOutcome.NOT_FOUND,
            at=self._clock.now()))
        if not found:
            raise NotFound(f"no webhook endpoint with id {endpoint_id!r}")

    async def deliveries(self, caller: Caller, query: DeliveryQuery) -> list[Delivery]:
        await self._endpoint(caller, query.endpoint_id, AuditAction.READ)
        return await self._store.list_deliveries(
            DeliveryQuery(query.endpoint_id, query.status, query.event_type, query.after,
                          max(1, min(query.limit, MAX_PAGE))))

    async def delivery(self, caller: Caller, endpoint_id: str,
                       delivery_id: str) -> DeliveryDetail:
        await self._endpoint(caller, endpoint_id, AuditAction.READ)
        found = await self._store.get_delivery(endpoint_id, delivery_id)
        if found is None:
            raise NotFound(f"no delivery {delivery_id!r} to endpoint {endpoint_id!r}")
        return found

    async def by_status(self, caller: Caller, statuses: Sequence[DeliveryStatus],
                        limit: int) -> list[Delivery]:
        """Every endpoint's deliveries in ``statuses`` (the console's failures page), newest
        change first; one audit record names the endpoints read."""
        require_role(caller, *MANAGERS)
        found = await self._store.deliveries_by_status(statuses, max(1, min(limit, MAX_REPLAY)))
        endpoints = sorted({d.endpoint_id for d in found})
        await self._audit.record(audit_records(
            caller, action=AuditAction.READ, resource_type=RESOURCE,
            targets=[(e, None) for e in endpoints] or [(None, None)],
            outcome=AuditOutcome.SUCCESS, at=self._clock.now()))
        return found

    async def replay(self, caller: Caller, endpoint_id: str, delivery_id: str) -> Delivery:
        await self._endpoint(caller, endpoint_id, AuditAction.EXECUTE)
        found = await self._store.get_delivery(endpoint_id, delivery_id)
        if found is None:
            raise NotFound(f"no delivery {delivery_id!r} to endpoint {endpoint_id!r}")
        if found.delivery.status is DeliveryStatus.PENDING:
            raise Conflict("the delivery is already queued", details={"status": "pending"})
        await self._requeue([found.delivery])
        return (await self._store.get_delivery(endpoint_id, delivery_id) or found).delivery

    async def replay_since(self, caller: Caller, endpoint_id: str, since: datetime) -> int:
        await self._endpoint(caller, endpoint_id, AuditAction.EXECUTE)
        found = await self._store.replayable_since(endpoint_id, since, MAX_REPLAY)
        await self._requeue(found)
        return len(found)

    async def _requeue(self, deliveries: list[Delivery]) -> None:
        if not deliveries:
            return
        # A new outbox key per replay: the first delivery's row is settled and stays as it is.
        messages = [delivery_message(d.id, f"{d.event_id}:{d.endpoint_id}:replay:{new_id()}")
                    for d in deliveries]
        await self._store.requeue([d.id for d in deliveries], messages, self._clock.now())
