"""The per-country DHIS2 mapping file (``CARI_DHIS2_MAPPING``), read and checked at start.

Format (JSON; adapters/dhis2/mappings/example-ke.json is a complete example)::

    {"country": "KE",
     "indicators": {"MAL_RDT_TESTED": {"dataElement": "<uid>", "categoryOptionCombo": "<uid>"},
                    ...},
     "dataSets": {"malaria_rdt": {"uid": "<uid>", "periodType": "Weekly",
                                  "indicators": ["MAL_RDT_TESTED", ...]}},
     "orgUnits": {"<our Organization id>": "<DHIS2 org unit uid>", ...}}

Every problem is reported (file, JSON path, what is wrong) so an operator fixes them in one
go: unknown indicator codes, UIDs that are not DHIS2 UIDs (11 characters, a letter first),
unknown period types, data sets naming unmapped indicators, two org units with one UID.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from adapters.settings.dhis2_surveillance import parse_surveillance
from resolvers.public_health.model import (
    COVERAGE,
    INDICATORS,
    UNKNOWN,
    DataSetMapping,
    Dhis2Mapping,
    IndicatorMapping,
    PeriodType,
    PopulationMapping,
    disaggregation_keys,
)

UID = re.compile(r"[A-Za-z][A-Za-z0-9]{10}")


def load_mapping(path: str, problems: list[str]) -> Dhis2Mapping | None:
    where = f"CARI_DHIS2_MAPPING={path!r}"
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"{where}: cannot be read ({exc.strerror or type(exc).__name__})")
        return None
    except ValueError as exc:
        problems.append(f"{where}: not JSON ({exc})")
        return None
    found: list[str] = []
    mapping = parse_mapping(raw, found, source=path)
    problems.extend(f"{where}: {p}" for p in found)
    return mapping if not found else None


def _uid(value: Any, at: str, problems: list[str]) -> str:
    if not isinstance(value, str) or not UID.fullmatch(value):
        problems.append(f"{at}: {value!r} is not a DHIS2 UID (11 letters and digits, a letter "
                        "first)")
        return ""
    return value


def _object(value: Any, at: str, problems: list[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        problems.append(f"{at}: expected an object")
        return {}
    return value


def _by_age_and_sex(code: str, raw: Any, at: str, problems: list[str]) -> dict[str, str]:
    """IDSR indicators: every ``band|sex`` key (and optionally ``unknown``) to a combo."""
    if not code.startswith("IDSR_"):
        if raw is not None:
            problems.append(f"{at}.categoryOptionCombos: only IDSR indicators are "
                            "disaggregated (use categoryOptionCombo)")
        return {}
    combos = _object(raw, f"{at}.categoryOptionCombos", problems)
    wanted = disaggregation_keys()
    missing = [k for k in wanted if k not in combos]
    if missing:
        problems.append(f"{at}.categoryOptionCombos: missing {', '.join(missing)} (every age "
                        "band and sex needs a category option combo)")
    unexpected = sorted(set(combos) - set(wanted) - {UNKNOWN})
    if unexpected:
        problems.append(f"{at}.categoryOptionCombos: unknown keys {', '.join(unexpected)} "
                        f"(expected band|sex: {', '.join(wanted)}, or {UNKNOWN})")
    return {k: _uid(v, f"{at}.categoryOptionCombos.{k}", problems) for k, v in combos.items()
            if k in wanted or k == UNKNOWN}


def parse_mapping(raw: Any, problems: list[str], *, source: str = "") -> Dhis2Mapping:
    top = _object(raw, "the file", problems)
    country = top.get("country")
    if not isinstance(country, str) or not re.fullmatch(r"[A-Z]{2}", country):
        problems.append(f"country: {country!r} is not an ISO 3166 alpha-2 code")
        country = ""
    indicators: dict[str, IndicatorMapping] = {}
    for code, entry in _object(top.get("indicators"), "indicators", problems).items():
        at = f"indicators.{code}"
        if code not in INDICATORS:
            problems.append(f"{at}: unknown indicator (known: {', '.join(sorted(INDICATORS))})")
            continue
        item = _object(entry, at, problems)
        combo = item.get("categoryOptionCombo")
        indicators[code] = IndicatorMapping(
            code, _uid(item.get("dataElement"), f"{at}.dataElement", problems),
            _uid(combo, f"{at}.categoryOptionCombo", problems) if combo is not None else None,
            _by_age_and_sex(code, item.get("categoryOptionCombos"), at, problems))
    data_sets: dict[str, DataSetMapping] = {}
    for key, entry in _object(top.get("dataSets"), "dataSets", problems).items():
        at = f"dataSets.{key}"
        item = _object(entry, at, problems)
        try:
            period_type = PeriodType(str(item.get("periodType")))
        except ValueError:
            problems.append(f"{at}.periodType: {item.get('periodType')!r} is not one of "
                            f"{', '.join(t.value for t in PeriodType)}")
            period_type = PeriodType.MONTHLY
        listed = item.get("indicators")
        if not isinstance(listed, list) or not listed or not all(
                isinstance(i, str) for i in listed):
            problems.append(f"{at}.indicators: expected a non-empty list of indicator codes")
            listed = []
        for code in listed:
            if code not in indicators:
                problems.append(f"{at}.indicators: {code!r} has no entry under indicators")
        data_sets[key] = DataSetMapping(key, _uid(item.get("uid"), f"{at}.uid", problems),
                                        period_type, tuple(listed))
    if not data_sets:
        problems.append("dataSets: at least one data set is needed")
    population = None
    if top.get("population") is not None:
        pop = _object(top.get("population"), "population", problems)
        combo = pop.get("categoryOptionCombo")
        population = PopulationMapping(
            _uid(pop.get("dataSet"), "population.dataSet", problems),
            _uid(pop.get("dataElement"), "population.dataElement", problems),
            _uid(combo, "population.categoryOptionCombo", problems) if combo is not None
            else None)
    elif any(c.endswith(COVERAGE) for d in data_sets.values() for c in d.indicators):
        problems.append("population: coverage indicators need the population's dataSet and "
                        "dataElement")
    org_units: dict[str, str] = {}
    seen: dict[str, str] = {}
    for ours, uid in _object(top.get("orgUnits"), "orgUnits", problems).items():
        checked = _uid(uid, f"orgUnits.{ours}", problems)
        if checked and checked in seen:
            problems.append(f"orgUnits.{ours}: {checked} is already the org unit of {seen[checked]}")
        seen[checked] = ours
        org_units[ours] = checked
    return Dhis2Mapping(country=country, data_sets=data_sets, indicators=indicators,
                        org_units=org_units, source=source, population=population,
                        surveillance=parse_surveillance(top.get("surveillance"), data_sets,
                                                        problems, _uid))
