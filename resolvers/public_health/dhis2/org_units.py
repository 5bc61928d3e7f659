"""The org unit import: DHIS2's hierarchy into the directory's Organizations.

``GET /api/organisationUnits?fields=id,name,level,parent&paging=false`` on a configured
instance. Each org unit becomes an Organization (created, or updated when it differs):

- its id: the one the mapping gives that UID, else ``dhis2-<uid>``, so a re-import finds it;
- an identifier ``{system: <instance URL>/api/organisationUnits, value: <uid>}`` (kept with
  the Organization's other identifiers);
- ``part_of``: its parent's Organization (parents are written first, by level);
- its kind by depth: the deepest level is ``facility``, the one above ``district``, every
  level above that ``region``.

Aggregation by district (the national dataset, the dashboard feeds) then follows DHIS2's own
tree. Organization writes are a directory use case, passed in by the caller's layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.directory.model import OrganizationDraft
from resolvers.directory.organizations import OrganizationUseCases
from resolvers.errors import InvalidInput
from resolvers.mpi.model import Identifier
from resolvers.principal import Caller, Role, require_role
from resolvers.public_health.dhis2.metadata import Dhis2Unreachable
from resolvers.public_health.dhis2.model import Dhis2Error
from resolvers.public_health.dhis2.ports import Dhis2Instance, OutboundGuard
from resolvers.public_health.model import Dhis2Mapping

AUDIT_TYPE = "Dhis2OrgUnitImport"
MAX_UNITS = 20_000


@dataclass(frozen=True)
class ImportedUnit:
    uid: str
    organization_id: str
    name: str
    kind: str
    part_of: str | None
    outcome: str  # created, updated, unchanged


@dataclass(frozen=True)
class OrgUnitImportReport:
    dhis2_url: str
    created: int
    updated: int
    unchanged: int
    units: list[ImportedUnit] = field(default_factory=list)


def _kind(level: int, deepest: int) -> str:
    return "facility" if level >= deepest else "district" if level == deepest - 1 else "region"


def _level(unit: dict[str, object]) -> int:
    level = unit.get("level")
    return level if isinstance(level, int) and level > 0 else 1


class OrgUnitImport:
    def __init__(self, mapping: Dhis2Mapping | None, instances: Mapping[str, Dhis2Instance],
                 guard: OutboundGuard, audit: AuditTrail, now: Callable[[], datetime]) -> None:
        self._mapping = mapping
        self._instances = instances
        self._guard = guard
        self._audit = audit
        self._now = now

    def _instance(self, dhis2_url: str | None) -> tuple[str, Dhis2Instance]:
        url = dhis2_url or next(iter(self._instances), "")
        found = self._instances.get(url)
        if found is None:
            raise InvalidInput("dhis2_url must be a DHIS2 instance configured on the gateway",
                               details=[{"field": "dhis2_url", "message": "not configured"}])
        return url, found

    async def run(self, caller: Caller, dhis2_url: str | None,
                  directory: OrganizationUseCases) -> OrgUnitImportReport:
        require_role(caller, Role.PUBLIC_HEALTH)
        url, instance = self._instance(dhis2_url)
        await self._guard.admit(url)
        try:
            units = await instance.org_units()
        except Dhis2Error as exc:
            raise Dhis2Unreachable(f"the org units could not be read from DHIS2: {exc}"
                                   ) from None
        if len(units) > MAX_UNITS:
            raise Dhis2Unreachable(f"DHIS2 listed {len(units)} org units; at most {MAX_UNITS}")
        ours = {uid: org for org, uid in (self._mapping.org_units if self._mapping
                                           else {}).items()}
        by_uid = {str(u["id"]): u for u in units}
        ids = {uid: ours.get(uid, f"dhis2-{uid}") for uid in by_uid}
        deepest = max((_level(u) for u in units), default=1)
        existing = await directory.get_many(caller, list(ids.values()))
        system = f"{url.rstrip('/')}/api/organisationUnits"
        done: list[ImportedUnit] = []
        for uid, unit in sorted(by_uid.items(), key=lambda kv: (_level(kv[1]), kv[0])):
            parent = unit.get("parent")
            parent_uid = str(parent.get("id")) if isinstance(parent, dict) else None
            part_of = ids.get(parent_uid) if parent_uid else None
            org_id = ids[uid]
            before = existing.get(org_id)
            mine = Identifier(system, uid)
            identifiers = tuple(dict.fromkeys(
                [*(i for i in (before.identifiers if before else ()) if i.system != system),
                 mine]))
            name = str(unit.get("name") or uid)[:200]
            kind = _kind(_level(unit), deepest)
            outcome = await directory.upsert(caller, org_id, OrganizationDraft(
                name=name, identifiers=identifiers, kind=kind, part_of=part_of,
                country=before.country if before else None),
                roles=(Role.PUBLIC_HEALTH,))
            done.append(ImportedUnit(uid, org_id, name, kind, part_of, "unchanged"
                                     if outcome is None else "created" if outcome
                                     else "updated"))
        await self._audit.record(audit_records(
            caller, action=AuditAction.EXECUTE, resource_type=AUDIT_TYPE,
            targets=[(url[:64], None)], outcome=AuditOutcome.SUCCESS, at=self._now()))
        return OrgUnitImportReport(
            url, sum(u.outcome == "created" for u in done),
            sum(u.outcome == "updated" for u in done),
            sum(u.outcome == "unchanged" for u in done), done)
