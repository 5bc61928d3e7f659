"""The national dataset: aggregate, anonymised counts by facility, district or region.

No identifiers and no free text: rows are Organizations (facility, or its parent district,
or the district's parent region, following the directory's ``part_of``), columns are
categories that partition a count, so the row total is itself meaningful:

- ``malaria_rdt``: ``positive`` and ``negative`` (the total is the tests done);
- ``idsr_<group>`` (malaria, cholera, ...): ``band|sex`` and ``unknown`` (the total is the
  group's cases).

Dates are coarsened to the period: only the period, its start and its end are given. Cells
from 1 to ``threshold - 1`` are suppressed, with complementary suppression so no suppressed
cell can be recovered from the totals (resolvers/public_health/suppression.py); each
suppressed cell and held-back total is listed with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.errors import InvalidInput
from resolvers.principal import Caller, Role, require_role
from resolvers.public_health.model import IDSR_GROUPS, UNKNOWN, OrgNode, disaggregation_keys
from resolvers.public_health.periods import InvalidPeriod, PeriodType, last_complete, parse_period
from resolvers.public_health.ports import Aggregates
from resolvers.public_health.suppression import suppress

LEVELS = ("facility", "district", "region")
NO_PARENT = "(none)"  # a facility without a district, or a district without a region


@dataclass(frozen=True)
class Table:
    name: str
    columns: list[str]
    rows: list[dict[str, Any]]  # unit, name, cells {column: count or None}, total
    column_totals: dict[str, int | None]
    suppressed: list[dict[str, str | None]]
    suppressed_totals: list[str]


@dataclass(frozen=True)
class NationalView:
    period: str
    start: date
    end: date
    level: str
    threshold: int
    tables: list[Table]


def _roll_up(tree: list[OrgNode], level: str) -> Callable[[str], str]:
    parents = {o.id: o.part_of for o in tree}
    steps = LEVELS.index(level)

    def unit(facility: str) -> str:
        current: str | None = facility
        for _ in range(steps):
            current = parents.get(current) if current is not None else None
        return current or NO_PARENT
    return unit


def _table(name: str, counts: dict[tuple[str, str], int], columns: list[str],
           names: dict[str, str], threshold: int) -> Table:
    rows = sorted({r for r, _c in counts})
    done = suppress(counts, rows, columns, threshold=threshold)
    return Table(
        name=name, columns=columns,
        rows=[{"unit": r, "name": names.get(r, r),
               "cells": {c: done.cells[(r, c)] for c in columns}, "total": done.row_totals[r]}
              for r in rows],
        column_totals=dict(done.column_totals),
        suppressed=[{"unit": s.row, "column": s.column, "reason": s.reason,
                     "protects": s.protects} for s in done.suppressed],
        suppressed_totals=list(done.suppressed_totals))


class NationalDataset:
    def __init__(self, aggregates: Aggregates, audit: AuditTrail,
                 now: Callable[[], datetime], threshold: int = 5) -> None:
        self._aggregates = aggregates
        self._audit = audit
        self._now = now
        self._threshold = threshold

    async def dataset(self, caller: Caller, period: str | None = None,
                      level: str | None = None) -> NationalView:
        require_role(caller, Role.PUBLIC_HEALTH)
        level = "facility" if level is None else level
        if level not in LEVELS:
            raise InvalidInput(f"level must be one of {', '.join(LEVELS)}",
                               details=[{"field": "level", "message": "unknown level"}])
        try:
            p = parse_period(period) if period else last_complete(PeriodType.MONTHLY,
                                                                  self._now().date())
        except InvalidPeriod as exc:
            raise InvalidInput(str(exc), details=[{"field": "period",
                                                   "message": "not a DHIS2 period"}]) from None
        tree = await self._aggregates.organizations()
        unit = _roll_up(tree, level)
        names = {o.id: o.name for o in tree}
        rdt: dict[tuple[str, str], int] = {}
        for c in await self._aggregates.malaria_rdt(p.start, p.end, None):
            u = unit(c.organization_id)
            rdt[(u, "positive")] = rdt.get((u, "positive"), 0) + c.positive
            rdt[(u, "negative")] = rdt.get((u, "negative"), 0) + c.tested - c.positive
        idsr: dict[str, dict[tuple[str, str], int]] = {g: {} for g in IDSR_GROUPS}
        for case in await self._aggregates.idsr_cases(p.start, p.end, None):
            key = UNKNOWN if UNKNOWN in (case.age_band, case.sex) else \
                f"{case.age_band}|{case.sex}"
            cells = idsr[case.indicator]
            u = unit(case.organization_id)
            cells[(u, key)] = cells.get((u, key), 0) + case.cases
        columns = [*disaggregation_keys(), UNKNOWN]
        tables = [_table("malaria_rdt", rdt, ["positive", "negative"], names, self._threshold),
                  *(_table(f"idsr_{g[5:].lower()}", idsr[g], columns, names, self._threshold)
                    for g in IDSR_GROUPS)]
        await self._audit.record(audit_records(
            caller, action=AuditAction.EXECUTE, resource_type="NationalDataset",
            targets=[(f"{p.id}|{level}", None)], outcome=AuditOutcome.SUCCESS, at=self._now()))
        return NationalView(period=p.id, start=p.start, end=p.end, level=level,
                            threshold=self._threshold, tables=tables)
