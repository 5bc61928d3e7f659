"""In-memory twin of the FhirRepository, with the same search semantics as the SQL one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from resolvers.fhir.model import (
    Condition,
    DateBound,
    IndexEntry,
    SearchPage,
    SearchRequest,
    StoredResource,
)


@dataclass
class FhirMemoryState:
    current: dict[tuple[str, str], StoredResource] = field(default_factory=dict)
    versions: dict[tuple[str, str], list[StoredResource]] = field(default_factory=dict)
    index: dict[tuple[str, str], list[IndexEntry]] = field(default_factory=dict)
    sort_dates: dict[tuple[str, str], datetime | None] = field(default_factory=dict)


def _date_ok(lo: datetime, hi: datetime, b: DateBound) -> bool:
    inside = lo >= b.lo and hi <= b.hi
    return {"eq": inside, "ne": not inside, "gt": hi > b.hi, "lt": lo < b.lo,
            "ge": hi > b.lo, "le": lo < b.hi}[b.prefix]


def _entry_ok(cond: Condition, e: IndexEntry, value: Any) -> bool:
    if cond.kind == "token":
        system, code = value
        # "|code" (system "") asks for no system at all, as SQL's IS NULL; a stored "" is not.
        no_system_asked = system == ""
        return ((system is None or (e.system is None if no_system_asked else e.system == system))
                and (code is None or e.value == code))
    if cond.kind == "string":
        v = e.value or ""
        return bool({"exact": v == value, "contains": value in v}.get(cond.modifier, v.startswith(value)))
    if cond.kind == "reference":
        v = e.value or ""
        return v == value if "/" in value else v.endswith("/" + value)
    return e.date_lo is not None and e.date_hi is not None and _date_ok(e.date_lo, e.date_hi, value)


class InMemoryFhirRepository:
    """Writes go to a staged copy; the unit of work swaps it in on commit."""

    def __init__(self, state: FhirMemoryState) -> None:
        self.state = state

    async def get_many(self, resource_type: str, ids: Sequence[str]) -> dict[str, StoredResource]:
        return {i: self.state.current[(resource_type, i)] for i in ids
                if (resource_type, i) in self.state.current}

    async def get_version(self, resource_type: str, id: str, version: int) -> StoredResource | None:
        return next((v for v in self.state.versions.get((resource_type, id), [])
                     if v.version == version), None)

    async def history(self, resource_type: str, id: str) -> list[StoredResource]:
        return sorted(self.state.versions.get((resource_type, id), []), key=lambda v: -v.version)

    async def put(self, resource: StoredResource, index: Sequence[IndexEntry],
                  sort_date: datetime | None, *, expected_version: int | None) -> bool:
        key = (resource.resource_type, resource.id)
        current = self.state.current.get(key)
        if (expected_version is None) != (current is None):
            return False
        if current is not None and current.version != expected_version:
            return False
        self.state.current[key] = resource
        self.state.versions.setdefault(key, []).append(resource)
        self.state.index[key] = list(index)
        self.state.sort_dates[key] = sort_date
        return True

    async def create_many(self, items: Sequence[tuple[StoredResource, Sequence[IndexEntry],
                                                      datetime | None]]) -> None:
        for resource, index, sort_date in items:
            if not await self.put(resource, index, sort_date, expected_version=None):
                raise ValueError(f"{resource.resource_type}/{resource.id} exists already")

    async def find_by_identifier(self, resource_type: str, keys: Sequence[tuple[str, str]],
                                 ) -> dict[tuple[str, str], StoredResource]:
        wanted = set(keys)
        wanted_values = {v for _s, v in wanted}
        found: dict[tuple[str, str], StoredResource] = {}
        for key, stored in self.state.current.items():
            # Like SQL: candidates by their indexed identifier values, then the document.
            if key[0] != resource_type or stored.deleted or not any(
                    e.param == "identifier" and e.value in wanted_values
                    for e in self.state.index.get(key, [])):
                continue
            for ident in stored.document.get("identifier") or []:
                key = (str(ident.get("system")), str(ident.get("value")))
                if key in wanted:
                    found[key] = stored
        return found

    async def search(self, request: SearchRequest) -> SearchPage:
        def matches(r: StoredResource) -> bool:
            key = (r.resource_type, r.id)
            for cond in request.conditions:
                if cond.kind == "id":
                    ok = r.id in cond.values
                elif cond.kind == "lastUpdated":
                    ok = any(_date_ok(r.last_updated, r.last_updated, b) for b in cond.values)
                else:
                    ok = any(e.param == cond.param and _entry_ok(cond, e, v)
                             for e in self.state.index.get(key, []) for v in cond.values)
                if not ok:
                    return False
            return True

        found = [r for (t, _), r in self.state.current.items()
                 if t == request.resource_type and not r.deleted and matches(r)]
        found.sort(key=lambda r: r.id)
        for column, descending in reversed(request.sort):
            def sort_key(r: StoredResource, column: str = column,
                         descending: bool = descending) -> tuple[bool, Any]:
                value = {"id": r.id, "last_updated": r.last_updated,
                         "sort_date": self.state.sort_dates.get((r.resource_type, r.id))}[column]
                return (value is None) != descending, value if value is not None else 0
            found.sort(key=sort_key, reverse=descending)
        if request.per_patient is not None:
            kept: dict[str | None, int] = {}
            for r in list(found):
                patient = next((e.value for e in self.state.index.get((r.resource_type, r.id), [])
                                if e.param == "patient"), None)
                kept[patient] = kept.get(patient, 0) + 1
                if kept[patient] > request.per_patient:
                    found.remove(r)
        return SearchPage(found[request.offset: request.offset + request.count], len(found))
