"""Critical-value alerts after they are raised: delivery, acknowledgement, escalation.

* **Delivery.** Ingest enqueues each alert for the outbox destination ``lab_alerts``;
  :class:`resolvers.labs.alerting.dispatch.LabAlertDispatcher` sends it to the first
  channel of its facility's route (webhook subscriptions, WhatsApp, a webhook URL) and to
  live GraphQL subscribers. When no channel reaches anybody the alert is marked
  ``undelivered``, never a dead letter: it stays listed at ``GET /api/lab/alerts`` and is
  counted on ``/metrics``.
* **Acknowledgement** records who and when, once (compare-and-set).
* **Escalation.** An alert nobody acknowledged within ``escalate_after`` is sent again, to
  the next channel of its facility's route (``recipient`` names the escalation recipient in
  the payload), then again every ``escalate_after``, up to ``max_escalations`` times.
  Each step is a compare-and-set on the level, so several gateway processes escalate once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from resolvers.audit.access import require_role_audited
from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import audit_records
from resolvers.clock import Clock
from resolvers.errors import Conflict, NotFound
from resolvers.labs.critical_alerts import alert_message
from resolvers.labs.ports import LabUnitOfWorkFactory
from resolvers.labs.records import ALERT_DELIVERED, ALERT_PENDING, ALERT_UNDELIVERED, LabAlert
from resolvers.labs.webhook_events import alert_acknowledged, alert_raised
from resolvers.principal import Caller, Role

log = logging.getLogger("cari.labs.alerts")
# Besides admin; integrators operate the gateway and see all its queues (issue 17).
ALERT_ROLES = (Role.CLINICIAN, Role.LAB, Role.INTEGRATOR)


@dataclass(frozen=True)
class EscalationPolicy:
    escalate_after: timedelta = timedelta(minutes=15)  # zero: never escalate
    max_escalations: int = 3
    recipient: str = "lab-supervisor"

    @property
    def enabled(self) -> bool:
        return self.escalate_after > timedelta(0) and self.max_escalations > 0


class LabAlerts:
    def __init__(self, uow_factory: LabUnitOfWorkFactory, clock: Clock,
                 policy: EscalationPolicy | None = None) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self.policy = policy or EscalationPolicy()

    async def acknowledge(self, caller: Caller, alert_id: str) -> LabAlert:
        await require_role_audited(self._uow_factory, self._clock, caller, *ALERT_ROLES,
                                   action=AuditAction.UPDATE, resource_type="LabAlert",
                                   targets=[(alert_id, None)])
        now = self._clock.now()
        who = caller.principal.subject
        async with self._uow_factory() as uow:
            alert = (await uow.labs.get_alerts([alert_id])).get(alert_id)
            if alert is None:
                await uow.audit.append(audit_records(
                    caller, action=AuditAction.UPDATE, resource_type="LabAlert",
                    targets=[(alert_id, None)], outcome=AuditOutcome.NOT_FOUND, at=now))
                await uow.commit()
                raise NotFound(f"no lab alert with id {alert_id!r}",
                               reason_code="alerts.not_found", params={"id": alert_id})
            if not await uow.labs.acknowledge_alert(alert_id, who, now):
                current = (await uow.labs.get_alerts([alert_id]))[alert_id]
                raise Conflict(f"the alert was already acknowledged by "
                               f"{current.acknowledged_by} at {current.acknowledged_at}",
                               details={"acknowledged_by": current.acknowledged_by},
                               reason_code="alerts.already_acknowledged",
                               params={"by": current.acknowledged_by,
                                       "at": current.acknowledged_at})
            await uow.audit.append(audit_records(
                caller, action=AuditAction.UPDATE, resource_type="LabAlert",
                targets=[(alert_id, alert.patient_id)], outcome=AuditOutcome.SUCCESS, at=now))
            await uow.outbox.enqueue([alert_acknowledged(alert, who, now)])
            await uow.commit()
        return replace(alert, acknowledged_at=now, acknowledged_by=who)

    async def open_counts(self) -> dict[str, int]:
        """Unacknowledged alerts per delivery status (for /metrics; no patient data)."""
        async with self._uow_factory() as uow:
            return {status: await uow.labs.count_alerts(status)
                    for status in (ALERT_PENDING, ALERT_DELIVERED, ALERT_UNDELIVERED)}

    async def escalate_due(self, *, limit: int = 100) -> int:
        """Escalate the alerts that waited too long; how many were escalated."""
        if not self.policy.enabled:
            return 0
        now = self._clock.now()
        escalated = 0
        async with self._uow_factory() as uow:
            due = await uow.labs.due_escalations(now - self.policy.escalate_after,
                                                 self.policy.max_escalations, limit)
            for alert in due:
                if not await uow.labs.escalate_alert(alert, now):
                    continue  # another process took this step
                level = alert.escalation_level + 1
                escalated_alert = replace(alert, escalation_level=level)
                await uow.outbox.enqueue([alert_message(
                    escalated_alert, "lab.critical.escalated",
                    self.policy.recipient, f"lab-alert:{alert.id}:escalation:{level}"),
                    alert_raised(escalated_alert, now)])
                escalated += 1
            await uow.commit()
        if escalated:
            log.warning("unacknowledged critical lab alerts escalated",
                        extra={"count": escalated})
        return escalated

    async def run(self, stop: asyncio.Event, interval_seconds: float) -> None:
        """The background escalation pass of a gateway process."""
        while not stop.is_set():
            try:
                await self.escalate_due()
            except Exception as exc:  # a database hiccup must not end the loop
                log.error("lab alert escalation pass failed", exc_info=exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_seconds)
