"""Pause and resume an outbox destination (the operator's switch, as Mirth's "stop channel"
or OpenHIM's "disable route").

A paused destination's rows are not claimed by any worker: they stay pending, their attempts
and next attempt untouched, so nothing is retried, counted or dead-lettered while the
destination is known to be down or under maintenance; once resumed they are delivered in
their usual order (oldest due first). The pause applies to rows not yet claimed: a delivery
already in flight when the pause is recorded finishes (or fails) as usual.

Who may: admin and integrator, as for disabling a webhook endpoint (the same kind of
switch). Unlike reading or replaying outbox rows (admin only: rows carry payloads), a pause
reads no payload and loses nothing; it only delays. Every pause and resume is audited.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditWriter, audit_records
from resolvers.clock import Clock
from resolvers.errors import InvalidInput, NotFound
from resolvers.outbox.model import DestinationDepth, PausedDestination
from resolvers.outbox.ports import OutboxStatistics, PausedDestinations
from resolvers.principal import Caller, Role, require_role

RESOURCE = "OutboxDestination"
MAX_REASON = 500
OPERATORS = (Role.INTEGRATOR,)  # and admin, always


@dataclass(frozen=True)
class DestinationState:
    """One destination as the switch shows it: its pause (None: running) and its rows."""

    destination: str
    pause: PausedDestination | None
    depth: DestinationDepth


class OutboxDestinations:
    def __init__(self, store: PausedDestinations, statistics: OutboxStatistics,
                 audit: AuditWriter, clock: Clock, known: Collection[str]) -> None:
        self._store = store
        self._statistics = statistics
        self._audit = audit
        self._clock = clock
        # The registered delivery handlers' names: a live view, since the composition root
        # registers handlers after the use cases are built.
        self._known = known

    async def states(self, caller: Caller) -> list[DestinationState]:
        """Every known destination, and any still paused whose handler is gone, by name."""
        require_role(caller, *OPERATORS)
        pauses = {p.destination: p for p in await self._store.paused()}
        depths = {d.destination: d for d in await self._statistics.depth_by_destination()}
        names = sorted({*self._known, *pauses})
        return [DestinationState(n, pauses.get(n), depths.get(n) or DestinationDepth(n))
                for n in names]

    async def pause(self, caller: Caller, destination: str,
                    reason: str | None = None) -> PausedDestination:
        """Pause; pausing a paused destination keeps the first pause (and says so)."""
        require_role(caller, *OPERATORS)
        reason = (reason or "").strip() or None
        if reason is not None and len(reason) > MAX_REASON:
            raise InvalidInput(f"reason is longer than {MAX_REASON} characters",
                               details=[{"field": "reason", "message": "too long"}])
        if destination not in self._known:
            await self._record(caller, destination, AuditOutcome.NOT_FOUND)
            raise NotFound(f"no outbox destination {destination!r}",
                           reason_code="outbox.destination_not_found",
                           params={"destination": destination})
        paused = PausedDestination(destination, self._clock.now(),
                                   caller.principal.subject[:200], reason)
        if not await self._store.pause(paused):
            current = {p.destination: p for p in await self._store.paused()}.get(destination)
            if current is not None:  # already paused: unchanged, nothing to audit
                return current
            await self._store.pause(paused)  # resumed in between: pause it now
        await self._record(caller, destination)
        return paused

    async def resume(self, caller: Caller, destination: str) -> bool:
        """Resume; False when it was not paused. A paused name whose handler is gone may be
        resumed (to clear it); any other unknown name is not found."""
        require_role(caller, *OPERATORS)
        resumed = await self._store.resume(destination)
        if not resumed and destination not in self._known:
            await self._record(caller, destination, AuditOutcome.NOT_FOUND)
            raise NotFound(f"no outbox destination {destination!r}",
                           reason_code="outbox.destination_not_found",
                           params={"destination": destination})
        if resumed:
            await self._record(caller, destination)
        return resumed

    async def _record(self, caller: Caller, destination: str,
                      outcome: AuditOutcome = AuditOutcome.SUCCESS) -> None:
        await self._audit.record(audit_records(
            caller, action=AuditAction.EXECUTE, resource_type=RESOURCE,
            targets=[(destination[:64], None)], outcome=outcome, at=self._clock.now()))
