"""In-memory twin of the LabRepository."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

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
