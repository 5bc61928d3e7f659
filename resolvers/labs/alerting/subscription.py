"""Live alerts for signed-in apps (GraphQL ``labAlertRaised``): who may listen, and what
each delivered event costs in checks and audit.

The token is checked again for every event, not only when the subscription starts: a token
that expired (or a principal that lost the role) stops receiving events and ends the
stream. Each event that names a patient (or a held result's alert, which names none) is a
read of an alert: one audit record per event delivered, as ``GET /api/lab/alerts`` records.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace

from resolvers.audit.access import require_role_audited
from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.ports import AuditUnitOfWorkFactory
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.authn import Authenticator
from resolvers.clock import Clock
from resolvers.errors import Unauthenticated
from resolvers.labs.alerting.model import RaisedAlert
from resolvers.labs.alerting.ports import LabAlertFeed
from resolvers.labs.alerts import ALERT_ROLES
from resolvers.principal import Caller

log = logging.getLogger("cari.labs.alert_subscription")
LISTEN_ROLES = ALERT_ROLES  # who may read and acknowledge alerts (admin implied)


class LabAlertSubscriptions:
    def __init__(self, feed: LabAlertFeed, authenticator: Authenticator, audit: AuditTrail,
                 uow_factory: AuditUnitOfWorkFactory, clock: Clock) -> None:
        self._feed = feed
        self._authenticator = authenticator
        self._audit = audit
        self._uow_factory = uow_factory
        self._clock = clock

    async def start(self, caller: Caller) -> None:
        """The role check when the subscription starts (a refusal is audited and raised)."""
        await require_role_audited(self._uow_factory, self._clock, caller, *LISTEN_ROLES,
                                   action=AuditAction.READ, resource_type="LabAlert",
                                   targets=[(None, None)])

    async def stream(self, caller: Caller, token: str,
                     facility_id: str | None) -> AsyncIterator[RaisedAlert]:
        """The alerts raised from now on (of one facility when ``facility_id`` is given)."""
        await self.start(caller)
        async with self._feed.listen() as alerts:
            async for alert in alerts:
                if facility_id is not None and alert.facility != facility_id:
                    continue
                current = self._still_allowed(caller, token)
                if current is None:
                    return
                await self._audit.record(audit_records(
                    current, action=AuditAction.READ, resource_type="LabAlert",
                    targets=[(alert.alert_id, alert.patient_id)],
                    outcome=AuditOutcome.SUCCESS, at=self._clock.now()))
                yield alert

    def _still_allowed(self, caller: Caller, token: str) -> Caller | None:
        try:
            principal = self._authenticator.verify(token)
        except Unauthenticated:
            log.info("a lab alert subscription ended: its token is no longer valid")
            return None
        if not principal.has_any_role(*LISTEN_ROLES):
            log.info("a lab alert subscription ended: the principal lost the role")
            return None
        return replace(caller, principal=principal)
