"""In-memory twin of the LabRepository."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from resolvers.labs.records import (
    DuplicateMessage,
    LabAlert,
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
                     limit: int) -> list[LabAlert]:
        found = sorted(self.state.alerts.values(), key=lambda a: a.id, reverse=True)
        return [a for a in found if (patient_id is None or a.patient_id == patient_id)
                and (after is None or a.id < after)][:limit]

    async def get_result(self, result_id: str) -> LabResult | None:
        return self.state.results.get(result_id)

    async def update_result(self, result: LabResult, *, expected_status: str) -> bool:
        current = self.state.results.get(result.id)
        if current is None or current.status != expected_status:
            return False
        self.state.results[result.id] = replace(result, raw_message=current.raw_message)
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
        self.state.tasks[task.id] = task
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
        self.state.links[link.id] = link
        return True
