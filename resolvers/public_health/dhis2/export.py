"""The DHIS2 export: indicators counted by the database, written as DHIS2 data values.

``dataset`` is a data set of the mapping (our key, e.g. ``malaria_rdt``, or its DHIS2 UID);
``period`` a DHIS2 period of the data set's period type; ``org_unit`` a DHIS2 org unit UID
(or our Organization id) of the mapping. Absent, they mean every data set, the last complete
period of each, and every mapped org unit. Each mapped org unit gets every indicator of the
data set: counts are written even when 0 (so a re-push replaces an older figure); a rate is
left out when its denominator is 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.errors import InvalidInput, NotFound
from resolvers.principal import Caller, Role, require_role
from resolvers.public_health.dhis2.metadata import Dhis2Unreachable
from resolvers.public_health.dhis2.model import DataValue, DataValueSet, Dhis2Error
from resolvers.public_health.dhis2.ports import Dhis2Instance
from resolvers.public_health.model import (
    COVERAGE,
    UNKNOWN,
    CaseCount,
    DataSetMapping,
    Dhis2Mapping,
    RdtCount,
    dose_indicator,
)
from resolvers.public_health.periods import InvalidPeriod, Period, last_complete, parse_period
from resolvers.public_health.ports import Aggregates

AUDIT_TYPE = "Dhis2Export"


@dataclass(frozen=True)
class ExportPart:
    data_set: DataSetMapping
    period: Period
    values: DataValueSet  # header: data set and period; each value names its org unit


class NotConfigured(NotFound):
    """No mapping file: there is nothing to export to."""


def _rate(numerator: int, denominator: int) -> str | None:
    if denominator <= 0:
        return None
    return f"{round(100 * numerator / denominator, 1):.1f}"


def _disaggregated(combos: dict[str, str], found: Sequence[CaseCount]) -> list[tuple[str, int]]:
    """(category option combo, cases) for every mapped ``band|sex`` (0 when none); cases of
    unknown age or sex go to the ``unknown`` combo when the mapping has one."""
    counts: dict[str, int] = {}
    for c in found:
        key = UNKNOWN if UNKNOWN in (c.age_band, c.sex) else f"{c.age_band}|{c.sex}"
        counts[key] = counts.get(key, 0) + c.cases
    return [(coc, counts.get(key, 0)) for key, coc in combos.items()]


def _coverage(doses: int, population: float | None, p: Period) -> str | None:
    """Doses x 100 over the year's population times the period's share of the year."""
    if not population or population <= 0:
        return None
    year = (date(p.start.year + 1, 1, 1) - date(p.start.year, 1, 1)).days
    expected = population * (p.end - p.start).days / year
    return f"{round(100 * doses / expected, 1):.1f}"


class Dhis2Export:
    def __init__(self, mapping: Dhis2Mapping | None, aggregates: Aggregates, audit: AuditTrail,
                 now: Callable[[], Any], population: Dhis2Instance | None = None) -> None:
        self._population_source = population  # where coverage denominators are pulled from
        self._mapping = mapping
        self._aggregates = aggregates
        self._audit = audit
        self._now = now

    @property
    def mapping(self) -> Dhis2Mapping:
        if self._mapping is None:
            raise NotConfigured("no DHIS2 mapping is configured (CARI_DHIS2_MAPPING)")
        return self._mapping

    def _data_sets(self, data_set: str | None) -> list[DataSetMapping]:
        mapping = self.mapping
        if not data_set:
            return list(mapping.data_sets.values())
        found = mapping.data_set(data_set)
        if found is None:
            raise InvalidInput(f"dataset must be one of {', '.join(mapping.data_sets)}",
                               details=[{"field": "dataset", "message": "unknown data set"}])
        return [found]

    def _period(self, data_set: DataSetMapping, period: str | None, today: date) -> Period:
        if not period:
            return last_complete(data_set.period_type, today)
        try:
            found = parse_period(period)
        except InvalidPeriod as exc:
            raise InvalidInput(str(exc), details=[{"field": "period",
                                                   "message": "not a DHIS2 period"}]) from None
        if found.type != data_set.period_type:
            raise InvalidInput(f"data set {data_set.key} is {data_set.period_type.value}; "
                               f"{period} is {found.type.value}",
                               details=[{"field": "period", "message": "wrong period type"}])
        return found

    def _organizations(self, org_unit: str | None) -> list[str]:
        mapping = self.mapping
        if not org_unit:
            return sorted(mapping.org_units)
        found = mapping.organizations_of(org_unit)
        if not found:
            raise InvalidInput(f"org_unit {org_unit!r} is not in the DHIS2 mapping",
                               details=[{"field": "org_unit", "message": "unmapped org unit"}])
        return found

    async def build(self, data_set: str | None = None, period: str | None = None,
                    org_unit: str | None = None) -> list[ExportPart]:
        """The data values, without the audit record (the push records its own)."""
        today = self._now().date()
        organizations = self._organizations(org_unit)
        parts = []
        for ds in self._data_sets(data_set):
            p = self._period(ds, period, today)
            counts: dict[str, RdtCount] = {}
            if any(code.startswith("MAL_RDT_") for code in ds.indicators):
                counts = {c.organization_id: c for c in await self._aggregates.malaria_rdt(
                    p.start, p.end, organizations)}
            cases: dict[tuple[str, str], list[CaseCount]] = {}
            counts_by: dict[tuple[str, str], int] = {}  # (facility, indicator) -> count
            if any(code.startswith("IDSR_") for code in ds.indicators):
                for c in await self._aggregates.idsr_cases(p.start, p.end, organizations):
                    cases.setdefault((c.organization_id, c.indicator), []).append(c)
            if any(code.startswith("IMM_") for code in ds.indicators):
                for d in await self._aggregates.vaccine_doses(p.start, p.end, organizations):
                    found = dose_indicator(d.antigen, d.dose)
                    if found is not None:
                        key = (d.organization_id, found)
                        counts_by[key] = counts_by.get(key, 0) + d.doses
            if any(code.startswith("MCH_") for code in ds.indicators):
                for m in await self._aggregates.mch_counts(p.start, p.end, organizations):
                    counts_by[(m.organization_id, m.indicator)] = m.count
            population: dict[str, float] = {}
            if any(code.endswith(COVERAGE) for code in ds.indicators):
                population = await self._population(p, organizations)
            parts.append(ExportPart(ds, p, DataValueSet(
                period=p.id, org_unit=self._single_unit(organizations), data_set=ds.uid,
                values=tuple(self._values(ds, p, organizations, counts, cases, counts_by,
                                          population)))))
        return parts

    async def _population(self, p: Period, organizations: Sequence[str]) -> dict[str, float]:
        """The target population of each org unit for the period's year, from DHIS2."""
        mapping = self.mapping
        pop, source = mapping.population, self._population_source
        if pop is None or source is None:
            return {}
        units = [mapping.org_units[o] for o in organizations]
        try:
            rows = await source.data_values(pop.data_set, str(p.start.year), units)
        except Dhis2Error as exc:
            raise Dhis2Unreachable(f"the population could not be read from DHIS2: {exc}"
                                   ) from None
        found: dict[str, float] = {}
        for row in rows:
            if row.get("dataElement") != pop.data_element or (
                    pop.category_option_combo
                    and row.get("categoryOptionCombo") != pop.category_option_combo):
                continue
            try:
                found[str(row.get("orgUnit"))] = float(str(row.get("value")))
            except ValueError:
                continue
        return found

    def _single_unit(self, organizations: Sequence[str]) -> str:
        units = {self.mapping.org_units[o] for o in organizations}
        return units.pop() if len(units) == 1 else ""

    def _values(self, ds: DataSetMapping, p: Period, organizations: Sequence[str],
                counts: dict[str, RdtCount],
                cases: dict[tuple[str, str], list[CaseCount]],
                counts_by: dict[tuple[str, str], int],
                population: dict[str, float]) -> list[DataValue]:
        mapping = self.mapping
        values = []
        for org in organizations:
            unit = mapping.org_units[org]
            c = counts.get(org, RdtCount(org, 0, 0))
            figures = {"MAL_RDT_TESTED": str(c.tested), "MAL_RDT_POSITIVE": str(c.positive),
                       "MAL_RDT_POSITIVITY": _rate(c.positive, c.tested)}
            for code in ds.indicators:
                target = mapping.indicators[code]
                if target.by_age_and_sex:
                    values += [DataValue(target.data_element, str(n), category_option_combo=coc,
                                         period=p.id, org_unit=unit)
                               for coc, n in _disaggregated(target.by_age_and_sex,
                                                            cases.get((org, code), []))]
                    continue
                if code.endswith(COVERAGE):
                    value = _coverage(counts_by.get((org, code[:-len(COVERAGE)]), 0),
                                      population.get(unit), p)
                elif code == "MCH_LBW_RATE":
                    value = _rate(counts_by.get((org, "MCH_LBW"), 0),
                                  counts_by.get((org, "MCH_BIRTHS_WEIGHED"), 0))
                elif code.startswith(("IMM_", "MCH_")):
                    value = str(counts_by.get((org, code), 0))
                else:
                    value = figures.get(code)
                if value is not None:
                    values.append(DataValue(target.data_element, value,
                                            category_option_combo=target.category_option_combo,
                                            period=p.id, org_unit=unit))
        return values

    async def export(self, caller: Caller, data_set: str | None = None,
                     period: str | None = None, org_unit: str | None = None) -> list[ExportPart]:
        require_role(caller, Role.PUBLIC_HEALTH)
        parts = await self.build(data_set, period, org_unit)
        await self._audit.record(audit_records(
            caller, action=AuditAction.EXECUTE, resource_type=AUDIT_TYPE,
            targets=[(f"{p.data_set.key}|{p.period.id}|{org_unit or '*'}"[:64], None)
                     for p in parts], outcome=AuditOutcome.SUCCESS, at=self._now()))
        return parts


def document(parts: Sequence[ExportPart]) -> dict[str, Any]:
    """One DHIS2 ``dataValueSets`` document: header fields where all values share them, and
    every value naming its period and org unit (DHIS2 imports either form)."""
    if len(parts) == 1:
        body = parts[0].values.as_json()
    else:
        body = {"dataValues": [row for p in parts for row in p.values.as_json()["dataValues"]]}
    return body


CSV_COLUMNS = ("dataelement", "period", "orgunit", "categoryoptioncombo",
               "attributeoptioncombo", "value")


def csv_rows(parts: Sequence[ExportPart]) -> list[tuple[str, ...]]:
    """DHIS2's CSV data value columns (the header DHIS2 writes and reads)."""
    return [(v.data_element, v.period or p.values.period, v.org_unit or p.values.org_unit,
             v.category_option_combo or "", v.attribute_option_combo or "", v.value)
            for p in parts for v in p.values.values]
