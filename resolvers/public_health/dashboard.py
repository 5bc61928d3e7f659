"""Dashboard feeds (use case 6): one indicator as a time series, or as a FHIR MeasureReport.

The values are the export's (the same definitions, counted by the database: one statement
per period), for an org unit and everything under it in the directory's ``part_of`` tree
(a district sums its facilities), or for every facility when no org unit is given. The org
unit is a DHIS2 UID of the mapping, else our Organization id. Coverage indicators need
DHIS2's population and are not served here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.errors import InvalidInput, NotFound
from resolvers.principal import Caller, Role, require_role
from resolvers.public_health.model import (
    COVERAGE,
    INDICATORS,
    Dhis2Mapping,
    Indicator,
    dose_indicator,
)
from resolvers.public_health.periods import (
    InvalidPeriod,
    Period,
    PeriodType,
    last_complete,
    parse_period,
    period_containing,
)
from resolvers.public_health.ports import Aggregates

SERIES_TYPES = ("Weekly", "Monthly", "Quarterly", "Yearly")
MAX_POINTS = 120
RATES = {"MAL_RDT_POSITIVITY": ("MAL_RDT_POSITIVE", "MAL_RDT_TESTED"),
         "MCH_LBW_RATE": ("MCH_LBW", "MCH_BIRTHS_WEIGHED")}
INDICATOR_SYSTEM = "urn:cari:public-health:indicator"
MEASURE_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"


@dataclass(frozen=True)
class Point:
    period: str
    start: date
    end: date  # exclusive
    value: float | int | None  # None: a rate whose denominator is 0
    numerator: int
    denominator: int | None  # rates only


@dataclass(frozen=True)
class Series:
    indicator: str
    name: str
    value_type: str
    org_unit: str | None
    period_type: str
    points: list[Point]


def _date(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD)",
                           details=[{"field": name, "message": "not a date"}]) from None


class IndicatorFeeds:
    def __init__(self, mapping: Dhis2Mapping | None, aggregates: Aggregates,
                 audit: AuditTrail, now: Callable[[], datetime]) -> None:
        self._mapping = mapping
        self._aggregates = aggregates
        self._audit = audit
        self._now = now

    def _indicator(self, code: str) -> Indicator:
        found = INDICATORS.get(code)
        if found is None:
            raise NotFound(f"no indicator {code!r}")
        if code.endswith(COVERAGE):
            raise InvalidInput(f"{code} needs DHIS2's population: it is not served as a feed",
                               details=[{"field": "code", "message": "a coverage indicator"}])
        return found

    async def _organizations(self, org_unit: str | None) -> list[str] | None:
        """The org unit's Organizations and all under them; None: every facility."""
        if not org_unit:
            return None
        roots = self._mapping.organizations_of(org_unit) if self._mapping else []
        nodes = await self._aggregates.organizations()
        if not roots and any(n.id == org_unit for n in nodes):
            roots = [org_unit]
        if not roots:
            raise InvalidInput(f"org_unit {org_unit!r} is neither in the DHIS2 mapping nor an "
                               "Organization", details=[{"field": "org_unit",
                                                         "message": "unknown org unit"}])
        children: dict[str, list[str]] = {}
        for n in nodes:
            if n.part_of:
                children.setdefault(n.part_of, []).append(n.id)
        found, todo = set(roots), list(roots)
        while todo:
            for child in children.get(todo.pop(), []):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return sorted(found)

    async def _counts(self, code: str, p: Period,
                      organizations: list[str] | None) -> dict[str, int]:
        counts: dict[str, int] = {}

        def add(key: str | None, n: int) -> None:
            if key is not None:
                counts[key] = counts.get(key, 0) + n

        if code.startswith("MAL_RDT_"):
            for r in await self._aggregates.malaria_rdt(p.start, p.end, organizations):
                add("MAL_RDT_TESTED", r.tested)
                add("MAL_RDT_POSITIVE", r.positive)
        elif code.startswith("IDSR_"):
            for c in await self._aggregates.idsr_cases(p.start, p.end, organizations):
                add(c.indicator, c.cases)
        elif code.startswith("IMM_"):
            for d in await self._aggregates.vaccine_doses(p.start, p.end, organizations):
                add(dose_indicator(d.antigen, d.dose), d.doses)
        elif code.startswith("MCH_"):
            for m in await self._aggregates.mch_counts(p.start, p.end, organizations):
                add(m.indicator, m.count)
        return counts

    async def _point(self, code: str, p: Period, organizations: list[str] | None) -> Point:
        counts = await self._counts(code, p, organizations)
        if code in RATES:
            num, den = (counts.get(k, 0) for k in RATES[code])
            value = round(100 * num / den, 1) if den else None
            return Point(p.id, p.start, p.end, value, num, den)
        n = counts.get(code, 0)
        return Point(p.id, p.start, p.end, n, n, None)

    async def _record(self, caller: Caller, kind: str, target: str) -> None:
        await self._audit.record(audit_records(
            caller, action=AuditAction.EXECUTE, resource_type=kind,
            targets=[(target[:64], None)], outcome=AuditOutcome.SUCCESS, at=self._now()))

    async def series(self, caller: Caller, code: str, org_unit: str | None = None,
                     start: str | None = None, end: str | None = None,
                     period_type: str | None = None) -> Series:
        require_role(caller, Role.PUBLIC_HEALTH)
        indicator = self._indicator(code)
        kind = period_type or "Monthly"
        if kind not in SERIES_TYPES:
            raise InvalidInput(f"period_type must be one of {', '.join(SERIES_TYPES)}",
                               details=[{"field": "period_type", "message": "unknown"}])
        t = PeriodType(kind)
        today = self._now().date()
        last = period_containing(_date(end, "to") or today, t)
        first = period_containing(_date(start, "from") or last.start, t)
        if not start:
            for _ in range(11):
                first = first.previous()
        if first.start > last.start:
            raise InvalidInput("from is after to", details=[{"field": "from",
                                                             "message": "after to"}])
        periods = [first]
        while periods[-1].start < last.start:
            periods.append(periods[-1].next())
            if len(periods) > MAX_POINTS:
                raise InvalidInput(f"at most {MAX_POINTS} periods", details=[
                    {"field": "from", "message": "too many periods"}])
        organizations = await self._organizations(org_unit)
        points = [await self._point(code, p, organizations) for p in periods]
        await self._record(caller, "IndicatorSeries", f"{code}|{kind}|{org_unit or '*'}")
        return Series(code, indicator.name, indicator.value_type, org_unit or None, kind,
                      points)

    async def measure_report(self, caller: Caller, code: str, org_unit: str | None = None,
                             period: str | None = None) -> dict[str, Any]:
        """A FHIR R4 MeasureReport (summary) of one indicator for one period."""
        require_role(caller, Role.PUBLIC_HEALTH)
        indicator = self._indicator(code)
        try:
            p = (parse_period(period) if period
                 else last_complete(PeriodType.MONTHLY, self._now().date()))
        except InvalidPeriod as exc:
            raise InvalidInput(str(exc), details=[{"field": "period",
                                                   "message": "not a DHIS2 period"}]) from None
        organizations = await self._organizations(org_unit)
        point = await self._point(code, p, organizations)
        await self._record(caller, "IndicatorMeasureReport", f"{code}|{p.id}|{org_unit or '*'}")
        return measure_report(indicator, point, org_unit, organizations, self._now())


def _population(kind: str, count: int) -> dict[str, Any]:
    return {"code": {"coding": [{"system": MEASURE_POPULATION, "code": kind}]}, "count": count}


def measure_report(indicator: Indicator, point: Point, org_unit: str | None,
                   organizations: list[str] | None, now: datetime) -> dict[str, Any]:
    group: dict[str, Any] = {
        "code": {"coding": [{"system": INDICATOR_SYSTEM, "code": indicator.code,
                             "display": indicator.name}], "text": indicator.name},
        "population": [_population("numerator", point.numerator)]}
    if point.denominator is not None:
        group["population"].append(_population("denominator", point.denominator))
    if point.value is not None:
        score: dict[str, Any] = {"value": point.value}
        if point.denominator is not None:
            score |= {"unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
        group["measureScore"] = score
    report: dict[str, Any] = {
        "resourceType": "MeasureReport", "status": "complete", "type": "summary",
        "measure": f"{INDICATOR_SYSTEM}:{indicator.code}",
        "date": now.isoformat(),
        "period": {"start": point.start.isoformat(),
                   "end": (point.end - timedelta(days=1)).isoformat()},
        "group": [group]}
    if org_unit and organizations:
        report["reporter"] = {"display": org_unit}
        if org_unit in organizations:
            report["reporter"]["reference"] = f"Organization/{org_unit}"
    return report
