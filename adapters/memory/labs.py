"""In-memory twin of the LabRepository."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from resolvers.labs.records import (
    DuplicateMessage,
    LabAlert,
    LabMessageConflict,
    LabResult,
    LabResultQuery,
    MpiLink,
    ReviewTask,
)


@dataclass
class LabMemoryState:
    results: dict[str, LabResult] = field(default_factory=dict)
    tasks: dict[str, ReviewTask] = field(default_factory=dict)
    alerts: dict[str, LabAlert] = field(default_factory=dict)
    links: dict[str, MpiLink] = field(default_factory=dict)
    conflicts: dict[str, LabMessageConflict] = field(default_factory=dict)


class InMemoryLabRepository:
    def __init__(self, state: LabMemoryState) -> None:
        self.state = state

    async def find_message(self, sending_facility: str, control_id: str) -> LabResult | None:
        return next((r for r in self.state.results.values()
                     if (r.sending_facility, r.control_id) == (sending_facility, control_id)),
                    None)

    async def find_messages(self, keys: Sequence[tuple[str, str]],
                            ) -> dict[tuple[str, str], LabResult]:
        wanted = set(keys)
        return {(r.sending_facility, r.control_id): r for r in self.state.results.values()
                if (r.sending_facility, r.control_id) in wanted}

    async def add_results(self, results: Sequence[LabResult]) -> None:
        for result in results:
            await self.add_result(result)

    async def add_result(self, result: LabResult) -> None:
        if await self.find_message(result.sending_facility, result.control_id):
            raise DuplicateMessage(result.sending_facility, result.control_id)
        self.state.results[result.id] = result

    async def add_review_tasks(self, tasks: Sequence[ReviewTask]) -> None:
        self.state.tasks.update({t.id: t for t in tasks})

    async def add_alerts(self, alerts: Sequence[LabAlert]) -> None:
        self.state.alerts.update({a.id: a for a in alerts})

    async def add_conflicts(self, conflicts: Sequence[LabMessageConflict]) -> None:
        self.state.conflicts.update({c.id: c for c in conflicts})

    async def conflicts(self, after: str | None, limit: int) -> list[LabMessageConflict]:
        found = sorted(self.state.conflicts.values(), key=lambda c: c.id, reverse=True)
        return [c for c in found if after is None or c.id < after][:limit]

    async def lock_result_keys(self, keys: Sequence[str]) -> None:
        return None  # one process, one staged copy per unit of work

    async def add_links(self, links: Sequence[MpiLink]) -> None:
        self.state.links.update({k.id: k for k in links})

    async def results(self, query: LabResultQuery) -> list[LabResult]:
        found = sorted(self.state.results.values(), key=lambda r: r.id, reverse=True)
        found = [r for r in found if (query.patient_id is None or r.patient_id == query.patient_id)
                 and (query.status is None or r.status == query.status)
                 and (query.after is None or r.id < query.after)]
        return found[: query.limit]

    async def open_review_tasks(self, after: str | None, limit: int) -> list[ReviewTask]:
        found = sorted((t for t in self.state.tasks.values() if t.status == "open"),
                       key=lambda t: t.id)
        return [t for t in found if after is None or t.id > after][:limit]

    async def alerts(self, patient_id: str | None, after: str | None,
                     limit: int, *, unacknowledged: bool = False) -> list[LabAlert]:
        found = sorted(self.state.alerts.values(), key=lambda a: a.id, reverse=True)
        return [a for a in found if (patient_id is None or a.patient_id == patient_id)
                and not (unacknowledged and a.acknowledged_at is not None)
                and (after is None or a.id < after)][:limit]

    async def get_alerts(self, alert_ids: Sequence[str]) -> dict[str, LabAlert]:
        return {i: self.state.alerts[i] for i in alert_ids if i in self.state.alerts}

    async def alerts_for_result(self, result_id: str) -> list[LabAlert]:
        return sorted((a for a in self.state.alerts.values() if a.lab_result_id == result_id),
                      key=lambda a: a.id)

    async def acknowledge_alert(self, alert_id: str, by: str, at: datetime) -> bool:
        alert = self.state.alerts.get(alert_id)
        if alert is None or alert.acknowledged_at is not None:
            return False
        self.state.alerts[alert_id] = replace(alert, acknowledged_at=at, acknowledged_by=by)
        return True

    async def set_alert_delivery(self, alert_id: str, status: str) -> None:
        if alert_id in self.state.alerts:
            self.state.alerts[alert_id] = replace(self.state.alerts[alert_id],
                                                  delivery_status=status)

    async def attach_alert(self, alert_id: str, patient_id: str, observation_id: str) -> None:
        if alert_id in self.state.alerts:
            self.state.alerts[alert_id] = replace(self.state.alerts[alert_id],
                                                  patient_id=patient_id,
                                                  observation_id=observation_id)

    async def hold_alerts(self, result_id: str, candidates: tuple[dict[str, Any], ...]) -> None:
        for alert in [a for a in self.state.alerts.values() if a.lab_result_id == result_id]:
            self.state.alerts[alert.id] = replace(alert, patient_id=None, observation_id=None,
                                                  candidates=candidates)

    async def due_escalations(self, before: datetime, max_level: int,
                              limit: int) -> list[LabAlert]:
        due = [a for a in self.state.alerts.values() if a.acknowledged_at is None
               and a.escalation_level < max_level and (a.escalated_at or a.created_at) < before]
        return sorted(due, key=lambda a: a.escalated_at or a.created_at)[:limit]

    async def escalate_alert(self, alert: LabAlert, at: datetime) -> bool:
        current = self.state.alerts.get(alert.id)
        if (current is None or current.acknowledged_at is not None
                or current.escalation_level != alert.escalation_level):
            return False
        self.state.alerts[alert.id] = replace(current, escalation_level=alert.escalation_level + 1,
                                              escalated_at=at)
        return True

    async def count_alerts(self, delivery_status: str) -> int:
        return sum(1 for a in self.state.alerts.values()
                   if a.delivery_status == delivery_status and a.acknowledged_at is None)

    async def get_result(self, result_id: str) -> LabResult | None:
        return self.state.results.get(result_id)

    async def update_result(self, result: LabResult, *, expected_status: str) -> bool:
        current = self.state.results.get(result.id)
        if current is None or current.status != expected_status:
            return False
        # The message itself is never rewritten: only what became of it.
        self.state.results[result.id] = replace(
            result, sending_facility=current.sending_facility, control_id=current.control_id,
            received_at=current.received_at, raw_message=current.raw_message)
        return True

    async def get_task(self, task_id: str) -> ReviewTask | None:
        return self.state.tasks.get(task_id)

    async def tasks_for_result(self, result_id: str) -> list[ReviewTask]:
        return sorted((t for t in self.state.tasks.values() if t.lab_result_id == result_id),
                      key=lambda t: t.id)

    async def update_task(self, task: ReviewTask, *, expected_status: str) -> bool:
        current = self.state.tasks.get(task.id)
        if current is None or current.status != expected_status:
            return False
        self.state.tasks[task.id] = replace(current, status=task.status,
                                            resolved_at=task.resolved_at,
                                            resolved_by=task.resolved_by)
        return True

    async def get_link(self, link_id: str) -> MpiLink | None:
        return self.state.links.get(link_id)

    async def links(self, lab_result_id: str | None, patient_id: str | None, after: str | None,
                    limit: int) -> list[MpiLink]:
        found = sorted(self.state.links.values(), key=lambda k: k.id, reverse=True)
        return [k for k in found if (lab_result_id is None or k.lab_result_id == lab_result_id)
                and (patient_id is None or k.patient_id == patient_id)
                and (after is None or k.id < after)][:limit]

    async def undo_link(self, link: MpiLink) -> bool:
        current = self.state.links.get(link.id)
        if current is None or current.undone_at is not None:
            return False
        self.state.links[link.id] = replace(current, undone_at=link.undone_at,
                                            undone_by=link.undone_by,
                                            undo_reason=link.undo_reason)
        return True
