"""The mapping checked against a DHIS2 instance's own metadata.

``check`` pulls the ids of the instance's data sets, data elements, category option combos
and org units and reports every mapping entry that names one the instance does not have, by
where it sits in the mapping file (``indicators.MAL_RDT_TESTED.dataElement``, ...): a push
naming it would be refused value by value (E7610, E7612, E7630, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.errors import DomainError, InvalidInput
from resolvers.principal import Caller, Role, require_role
from resolvers.public_health.dhis2.model import Dhis2Error
from resolvers.public_health.dhis2.ports import Dhis2Instance
from resolvers.public_health.model import Dhis2Mapping

KINDS = ("dataSets", "dataElements", "categoryOptionCombos", "organisationUnits")
TRACKER_KINDS = ("programs", "programStages")  # read when the mapping has surveillance


class Dhis2Unreachable(DomainError):
    """DHIS2 did not answer the metadata requests (or refused them)."""

    code = "bad_gateway"


@dataclass(frozen=True)
class MissingEntry:
    kind: str  # one of KINDS
    uid: str
    where: str  # the entry's place in the mapping file


@dataclass(frozen=True)
class MetadataReport:
    dhis2_url: str
    checked: dict[str, int]  # kind -> ids the instance listed
    missing: list[MissingEntry]


def _entries(mapping: Dhis2Mapping) -> list[MissingEntry]:
    """Every UID the mapping names, as a candidate (kind, uid, where)."""
    found = [MissingEntry("dataSets", d.uid, f"dataSets.{d.key}.uid")
             for d in mapping.data_sets.values()]
    for code, i in mapping.indicators.items():
        found.append(MissingEntry("dataElements", i.data_element,
                                  f"indicators.{code}.dataElement"))
        if i.category_option_combo:
            found.append(MissingEntry("categoryOptionCombos", i.category_option_combo,
                                      f"indicators.{code}.categoryOptionCombo"))
        found += [MissingEntry("categoryOptionCombos", coc,
                               f"indicators.{code}.categoryOptionCombos.{key}")
                  for key, coc in i.by_age_and_sex.items()]
    found += [MissingEntry("organisationUnits", uid, f"orgUnits.{ours}")
              for ours, uid in mapping.org_units.items()]
    if mapping.population is not None:
        pop = mapping.population
        found += [MissingEntry("dataSets", pop.data_set, "population.dataSet"),
                  MissingEntry("dataElements", pop.data_element, "population.dataElement")]
        if pop.category_option_combo:
            found.append(MissingEntry("categoryOptionCombos", pop.category_option_combo,
                                      "population.categoryOptionCombo"))
    if mapping.surveillance is not None:
        s = mapping.surveillance
        found += [MissingEntry("programs", s.program, "surveillance.program"),
                  MissingEntry("programStages", s.program_stage, "surveillance.programStage"),
                  *(MissingEntry("dataElements", uid, f"surveillance.dataElements.{key}")
                    for key, uid in s.data_elements.items())]
    return found


class Dhis2MetadataCheck:
    def __init__(self, mapping: Dhis2Mapping | None, instances: Mapping[str, Dhis2Instance],
                 audit: AuditTrail, now: Callable[[], datetime]) -> None:
        self._mapping = mapping
        self._instances = instances
        self._audit = audit
        self._now = now

    async def check(self, caller: Caller, dhis2_url: str | None = None) -> MetadataReport:
        require_role(caller, Role.PUBLIC_HEALTH)
        if self._mapping is None:
            raise InvalidInput("no DHIS2 mapping is configured (CARI_DHIS2_MAPPING)")
        url = (dhis2_url or next(iter(self._instances), "")).strip().rstrip("/")
        instance = self._instances.get(url)
        if instance is None:
            raise InvalidInput("dhis2_url must name a DHIS2 instance configured on the "
                               f"gateway (configured: {', '.join(self._instances) or 'none'})",
                               details=[{"field": "dhis2_url",
                                         "message": "not a configured instance"}])
        known: dict[str, set[str]] = {}
        try:
            for kind in KINDS + (TRACKER_KINDS if self._mapping.surveillance else ()):
                known[kind] = await instance.metadata_ids(kind)
        except Dhis2Error as exc:
            raise Dhis2Unreachable(f"DHIS2 metadata could not be read: {exc}") from None
        missing = [e for e in _entries(self._mapping) if e.uid not in known[e.kind]]
        await self._audit.record(audit_records(
            caller, action=AuditAction.EXECUTE, resource_type="Dhis2MetadataCheck",
            targets=[(url[:64], None)], outcome=AuditOutcome.SUCCESS, at=self._now()))
        return MetadataReport(dhis2_url=url, checked={k: len(v) for k, v in known.items()},
                              missing=missing)
