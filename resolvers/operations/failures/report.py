"""Failed deliveries, per destination, and what an operator does about them.

Two kinds of deliveries fail:

* outbox rows (Medplum mirror, DHIS2, PACS, inbox dispatch, ...): retried with backoff,
  then dead letters; replayed through :class:`OutboxAdmin` (admin only, as on REST). A
  destination can be paused while it is down and resumed once fixed
  (:class:`OutboxDestinations`, integrator or admin): its rows wait, unretried.
* webhook endpoint deliveries: exhausted, failed at once (410) or skipped while the endpoint
  was disabled; replayed and the endpoint disabled or enabled through the notifications use
  cases (integrator or admin).

Every role check and audit record is the use cases' own; this module only gathers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from resolvers.errors import Conflict, Forbidden, NotFound
from resolvers.notifications.delivery_log import DeliveryLog
from resolvers.notifications.endpoints import WebhookEndpoints
from resolvers.notifications.model import Delivery, DeliveryStatus, Endpoint
from resolvers.outbox.admin import OutboxAdmin
from resolvers.outbox.destinations import DestinationState, OutboxDestinations
from resolvers.outbox.model import (
    DestinationDepth,
    OutboxMessage,
    OutboxQuery,
    OutboxStatus,
    PausedDestination,
)
from resolvers.outbox.ports import OutboxStatistics
from resolvers.principal import Caller, Role, require_role

PER_LIST = 20  # rows per list on the page
MAX_ENDPOINTS = 50
MAX_DELIVERIES = 1000  # failed (and retrying) deliveries read across endpoints
FAILED_STATUSES = (DeliveryStatus.EXHAUSTED, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)


@dataclass(frozen=True)
class EndpointFailures:
    endpoint: Endpoint
    failed: list[Delivery]  # exhausted, failed, skipped: replayable (the newest PER_LIST)
    retrying: list[Delivery]  # pending after a failed attempt: the worker tries again
    more_failed: int = 0  # failed deliveries beyond those listed (within MAX_DELIVERIES)


@dataclass(frozen=True)
class OutboxFailures:
    """Dead letters and rows retrying after an error; None of both when the caller may not
    read the outbox (admin only)."""

    dead: list[OutboxMessage] = field(default_factory=list)
    retrying: list[OutboxMessage] = field(default_factory=list)
    allowed: bool = True


@dataclass(frozen=True)
class FailureReport:
    destinations: list[DestinationDepth]
    outbox: OutboxFailures
    endpoints: list[EndpointFailures]
    switches: list[DestinationState] = field(default_factory=list)  # pause / resume, by name

    @property
    def failed_deliveries(self) -> int:
        return sum(len(e.failed) for e in self.endpoints)


@dataclass(frozen=True)
class ReplayOutcome:
    replayed: int
    skipped: int  # already queued, or gone meanwhile


class Failures:
    def __init__(self, outbox: OutboxAdmin, statistics: OutboxStatistics,
                 endpoints: WebhookEndpoints, deliveries: DeliveryLog,
                 destinations: OutboxDestinations) -> None:
        self._outbox = outbox
        self._destinations = destinations
        self._statistics = statistics
        self._endpoints = endpoints
        self._deliveries = deliveries

    async def report(self, caller: Caller) -> FailureReport:
        require_role(caller, Role.INTEGRATOR)
        return FailureReport(destinations=await self._statistics.depth_by_destination(),
                             outbox=await self._outbox_failures(caller),
                             endpoints=await self._endpoint_failures(caller),
                             switches=await self._destinations.states(caller))

    async def _outbox_failures(self, caller: Caller) -> OutboxFailures:
        try:
            dead = await self._outbox.search(caller, OutboxQuery(status=OutboxStatus.DEAD,
                                                                 limit=PER_LIST))
        except Forbidden:
            return OutboxFailures(allowed=False)
        retrying = await self._outbox.search(caller, OutboxQuery(
            status=OutboxStatus.PENDING, failing=True, limit=PER_LIST))
        return OutboxFailures(dead=dead, retrying=retrying)

    async def _endpoint_failures(self, caller: Caller) -> list[EndpointFailures]:
        # Two reads across every endpoint (the newest failed, then the retrying), not four
        # per endpoint: the page stays one round of queries however many endpoints exist.
        failed = await self._deliveries.by_status(caller, FAILED_STATUSES, MAX_DELIVERIES)
        pending = await self._deliveries.by_status(caller, (DeliveryStatus.PENDING,),
                                                   MAX_DELIVERIES)
        found = []
        for endpoint in await self._endpoints.list(caller, None, MAX_ENDPOINTS):
            mine = [d for d in failed if d.endpoint_id == endpoint.id]
            found.append(EndpointFailures(
                endpoint, mine[:PER_LIST], [d for d in pending
                                            if d.endpoint_id == endpoint.id and d.attempts > 0],
                more_failed=max(0, len(mine) - PER_LIST)))
        # Endpoints with something to fix first.
        return sorted(found, key=lambda e: (not (e.failed or e.retrying or not e.endpoint.enabled),
                                            e.endpoint.url))

    async def replay_dead_letters(self, caller: Caller, message_ids: Sequence[str]) -> int:
        if not message_ids:
            return 0
        return await self._outbox.replay(caller, list(message_ids))

    async def replay_deliveries(self, caller: Caller,
                                selected: Sequence[tuple[str, str]]) -> ReplayOutcome:
        """(endpoint id, delivery id) pairs; those already queued or gone are counted apart."""
        replayed = skipped = 0
        for endpoint_id, delivery_id in selected:
            try:
                await self._deliveries.replay(caller, endpoint_id, delivery_id)
                replayed += 1
            except (Conflict, NotFound):
                skipped += 1
        return ReplayOutcome(replayed, skipped)

    async def pause_destination(self, caller: Caller, destination: str,
                                reason: str | None) -> PausedDestination:
        return await self._destinations.pause(caller, destination, reason)

    async def resume_destination(self, caller: Caller, destination: str) -> bool:
        return await self._destinations.resume(caller, destination)

    async def set_endpoint_enabled(self, caller: Caller, endpoint_id: str,
                                   enabled: bool) -> Endpoint:
        return await self._endpoints.set_enabled(caller, endpoint_id, enabled)
