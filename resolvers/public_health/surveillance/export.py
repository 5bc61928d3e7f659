"""Use case 3: syndromic alerts to DHIS2 as tracker events, IDSR counts as a dataValueSet.

``export`` takes a DHIS2 period (daily or weekly, ...), optionally an org unit and a
configured instance (default: the first). For every mapped org unit, syndrome and day of the
period it reads the daily counts the database made (with the days before the period the EARS
method needs), runs the mapping's EARS method (C1, C2 or C3, see ears.py) and makes an alert
of every day the method flags. The alerts are kept as one push (data set ``idsr_alerts``) with
its outbox message (destination ``dhis2_tracker``): an outage delays them and loses nothing.
The IDSR data set named by the mapping goes as an ordinary DHIS2 push when the period is of
its period type. Both pushes are read back through ``GET /api/public-health/dhis2-push/{id}``.

:class:`TrackerDelivery` sends the events (``POST /api/tracker``): OK is ``success``; a 409
report is ``partial`` with each refused event as a conflict naming the event UID; 401, 403
and 400 are ``dead`` (dead letter); outages are ``retrying`` until the last attempt. Each
event's UID is fixed by org unit, syndrome and day, so sending a period again updates the
events instead of adding new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.errors import InvalidInput
from resolvers.ids import new_id
from resolvers.outbox.model import NewOutboxMessage
from resolvers.principal import Caller, Role, require_role
from resolvers.public_health.dhis2.export import Dhis2Export, NotConfigured
from resolvers.public_health.dhis2.model import (
    ImportStrategy,
    PushRecord,
    PushState,
)
from resolvers.public_health.dhis2.ports import PushStore
from resolvers.public_health.dhis2.push import Dhis2Pushes, PushDelivery
from resolvers.public_health.ears import Method, history_days, statistic
from resolvers.public_health.periods import InvalidPeriod, Period, parse_period
from resolvers.public_health.surveillance.model import (
    SYNDROMES,
    Alert,
    SurveillanceMapping,
    event_of,
)
from resolvers.public_health.surveillance.ports import SyndromeCounts, TrackerInstance

TRACKER_DESTINATION = "dhis2_tracker"
ALERTS = "idsr_alerts"  # the push's data set name for the events


@dataclass(frozen=True)
class SurveillanceResult:
    period: Period
    method: str
    alerts: list[Alert]
    events: PushRecord | None  # None: no alert
    data_values: PushRecord | None  # None: no IDSR data set of this period type


class SurveillanceExport:
    def __init__(self, export: Dhis2Export, pushes: Dhis2Pushes, counts: SyndromeCounts,
                 store: PushStore, instances: Mapping[str, Any], audit: AuditTrail,
                 now: Callable[[], datetime]) -> None:
        self._export = export
        self._pushes = pushes
        self._counts = counts
        self._store = store
        self._instances = instances
        self._audit = audit
        self._now = now

    def _mapping(self) -> SurveillanceMapping:
        found = self._export.mapping.surveillance
        if found is None:
            raise NotConfigured("the DHIS2 mapping has no surveillance program")
        return found

    async def alerts(self, period: Period, org_unit: str | None,
                     mapping: SurveillanceMapping) -> list[Alert]:
        dhis2 = self._export.mapping
        organizations = (dhis2.organizations_of(org_unit) if org_unit
                         else sorted(dhis2.org_units))
        if org_unit and not organizations:
            raise InvalidInput(f"org_unit {org_unit!r} is not in the DHIS2 mapping",
                               details=[{"field": "org_unit", "message": "unmapped org unit"}])
        method = Method(mapping.method)
        first = period.start - timedelta(days=history_days(method))
        end = min(period.end, self._now().date() + timedelta(days=1))  # up to today
        length = (end - first).days
        parents = await self._counts.parents()
        selected = set(organizations)

        def mapped(org: str) -> str | None:
            """The nearest mapped Organization at or above org (partOf), if selected."""
            current: str | None = org
            for _ in range(16):  # a bounded walk: a partOf cycle ends it
                if current is None or current in dhis2.org_units:
                    break
                current = parents.get(current)
            return current if current in selected else None

        facilities = sorted(o for o in {*parents, *selected} if mapped(o) is not None)
        series: dict[tuple[str, str], list[int]] = {}
        for c in await self._counts.syndrome_days(first, end, facilities):
            district = mapped(c.organization_id)
            if district is None:
                continue
            unit = dhis2.org_units[district]
            row = series.setdefault((unit, c.syndrome), [0] * length)
            row[(c.day - first).days] += c.cases
        found = []
        for unit in sorted({dhis2.org_units[o] for o in organizations}):
            for syndrome in SYNDROMES:
                row = series.get((unit, syndrome), [0] * length)
                for t in range((period.start - first).days, length):
                    s = statistic(method, row, t, mapping.sd_floor)
                    if s is not None and s.alert:
                        found.append(Alert(unit, syndrome, first + timedelta(days=t), s.count,
                                           s.expected, s.value, method.value))
        return found

    async def export(self, caller: Caller, *, period: str, org_unit: str | None = None,
                     dhis2_url: str | None = None) -> SurveillanceResult:
        require_role(caller, Role.PUBLIC_HEALTH)
        mapping = self._mapping()
        try:
            p = parse_period(period)
        except InvalidPeriod as exc:
            raise InvalidInput(str(exc), details=[{"field": "period",
                                                   "message": "not a DHIS2 period"}]) from None
        if p.start > self._now().date():
            raise InvalidInput("the period has not started yet",
                               details=[{"field": "period", "message": "in the future"}])
        url = (dhis2_url or next(iter(self._instances), "")).strip().rstrip("/")
        data_values = None
        ds = self._export.mapping.data_set(mapping.data_set) if mapping.data_set else None
        if ds is not None and ds.period_type == p.type:
            data_values = await self._pushes.push(caller, dhis2_url=url, data_set=ds.key,
                                                  period=p.id, org_unit=org_unit)
        elif url not in self._instances:
            raise InvalidInput("dhis2_url must name a DHIS2 instance configured on the gateway",
                               details=[{"field": "dhis2_url",
                                         "message": "not a configured instance"}])
        alerts = await self.alerts(p, org_unit, mapping)
        events = None
        now = self._now()
        if alerts:
            events = PushRecord(
                id=new_id(), instance_url=url, data_set=ALERTS, period=p.id,
                org_unit=org_unit or None, dry_run=False,
                import_strategy=ImportStrategy.CREATE_AND_UPDATE, state=PushState.QUEUED,
                payload={"events": [event_of(a, mapping) for a in alerts]},
                created_by=caller.principal.subject, created_at=now, updated_at=now)
            await self._store.create(events, NewOutboxMessage(
                destination=TRACKER_DESTINATION, payload={"push_id": events.id},
                idempotency_key=events.id))
        await self._audit.record(audit_records(
            caller, action=AuditAction.EXECUTE, resource_type="SurveillanceExport",
            targets=[(f"{p.id}|{org_unit or '*'}"[:64], None)], outcome=AuditOutcome.SUCCESS,
            at=now))
        return SurveillanceResult(p, mapping.method, alerts, events, data_values)


def tracker_summary(status: int, report: dict[str, Any],
                    events: list[dict[str, Any]]) -> dict[str, Any]:
    """DHIS2's tracker import report in a push summary's shape: each refused event a conflict
    naming its UID (and its index in the events sent)."""
    stats = report.get("stats") if isinstance(report.get("stats"), dict) else {}
    validation = report.get("validationReport")
    errors = validation.get("errorReports") if isinstance(validation, dict) else None
    index = {str(e.get("event")): i for i, e in enumerate(events)}
    conflicts = [{"object": str(e.get("uid") or ""), "value": str(e.get("message") or ""),
                  "error_code": e.get("errorCode"), "property": e.get("trackerType"),
                  "indexes": [index[str(e.get("uid"))]] if str(e.get("uid")) in index else []}
                 for e in errors or [] if isinstance(e, dict)]

    def count(key: str) -> int:
        value = stats.get(key) if isinstance(stats, dict) else 0
        return int(value) if isinstance(value, int) else 0

    return {"status": str(report.get("status") or ("OK" if status < 300 else "ERROR")),
            "http_status": status, "description": None,
            "import_count": {"imported": count("created"), "updated": count("updated"),
                             "ignored": count("ignored"), "deleted": count("deleted")},
            "conflicts": conflicts}


class TrackerDelivery(PushDelivery[TrackerInstance]):
    """The outbox destination ``dhis2_tracker``: one alert push (its events) per message."""

    async def _send(self, instance: TrackerInstance,
                    push: PushRecord) -> tuple[PushState, dict[str, Any]]:
        status, report = await instance.push_tracker(push.payload)
        summary = tracker_summary(status, report, list(push.payload.get("events") or []))
        clean = status < 300 and not summary["conflicts"]
        return (PushState.SUCCESS if clean else PushState.PARTIAL), summary

