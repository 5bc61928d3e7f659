"""Reading lab results back: a patient's laboratory Observations, review tasks, alerts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from resolvers.audit.access import patients_or_none, require_role_audited
from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.clock import Clock
from resolvers.fhir.search import parse_search
from resolvers.fhir.service import FhirUseCases
from resolvers.labs.alerts import ALERT_ROLES
from resolvers.labs.ports import LabUnitOfWorkFactory, LabViewDecoder
from resolvers.labs.records import LabAlert, LabMessageConflict, ReviewTask
from resolvers.labs.review_cases import REVIEW_ROLES
from resolvers.labs.view import LabResultView as LabResultView  # re-exported for surfaces
from resolvers.principal import Caller, Role

LAB_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"


@dataclass(frozen=True)
class LabResultFilter:
    code: str | None = None  # LOINC code, or system|code
    date_from: str | None = None  # FHIR date, inclusive
    date_to: str | None = None
    status: str | None = None


def alert_targets(alert: LabAlert) -> list[tuple[str | None, str | None]]:
    """The patient an alert is about, or the candidates of its held result."""
    if alert.patient_id is not None or not alert.candidates:
        return [(alert.id, alert.patient_id)]
    return [(alert.id, str(c.get("patient_id"))) for c in alert.candidates
            if c.get("patient_id")] or [(alert.id, None)]


class LabQueries:
    def __init__(self, uow_factory: LabUnitOfWorkFactory, fhir: FhirUseCases,
                 clock: Clock, audit: AuditTrail,
                 reads: LabUnitOfWorkFactory | None = None,
                 views: LabViewDecoder | None = None) -> None:
        self._uow_factory = uow_factory
        self._views = views
        self._fhir = fhir
        self._clock = clock
        self._audit = audit
        # Reads write nothing in their unit of work; their audit rows are committed by the
        # trail (shared commits) before the answer leaves.
        self._reads = reads or uow_factory

    async def results_for_patients(
        self, caller: Caller, patient_ids: Sequence[str], flt: LabResultFilter, *,
        count: int = 50, offset: int = 0, per_patient: int | None = None,
    ) -> tuple[dict[str, list[LabResultView]], int]:
        """One search for many patients (DataLoaders batch through here): newest first.
        ``per_patient``: each patient's newest few, so one patient's long history does not
        crowd the others off a shared page."""
        pairs: list[tuple[str, str]] = [
            ("patient", ",".join(f"Patient/{p}" for p in patient_ids)),
            ("category", LAB_CATEGORY), ("_sort", "-date"), ("_count", str(count)),
            ("_offset", str(offset))]
        if flt.code:
            pairs.append(("code", flt.code))
        if flt.status:
            pairs.append(("status", flt.status))
        if flt.date_from:
            pairs.append(("date", f"ge{flt.date_from}"))
        if flt.date_to:
            pairs.append(("date", f"le{flt.date_to}"))
        request = parse_search("Observation", pairs, strict=True)
        if per_patient is not None:
            request = replace(request, per_patient=per_patient,
                              count=per_patient * len(patient_ids), offset=0)
        page = await self._fhir.search(caller, request)
        grouped: dict[str, list[LabResultView]] = {p: [] for p in patient_ids}
        if page.matches is not None and self._views is not None:
            # The stored texts go straight into views: no whole-document decode.
            views = self._views([(m.id, m.version, m.text, m.lab_view) for m in page.matches])
        else:
            views = [LabResultView.of(stored) for stored in page.resources]
        for view in views:
            if view.patient_id in grouped:
                grouped[view.patient_id].append(view)
        return grouped, page.total

    async def review_tasks(self, caller: Caller, after: str | None,
                           limit: int) -> list[ReviewTask]:
        await require_role_audited(self._uow_factory, self._clock, caller, *REVIEW_ROLES,
                                   action=AuditAction.READ, resource_type="ReviewTask")
        async with self._reads() as uow:
            tasks = await uow.labs.open_review_tasks(after, max(1, min(limit, 200)))
        # Each task names a candidate patient and its scores per field (name, birth
        # date, phone): reading the queue reads those patients' data.
        await self._audit.record(audit_records(
            caller, action=AuditAction.READ, resource_type="ReviewTask",
            targets=[(t.id, t.candidate_patient_id) for t in tasks] or [(None, None)],
            outcome=AuditOutcome.SUCCESS, at=self._clock.now()))
        return tasks

    async def alerts(self, caller: Caller, patient_id: str | None, after: str | None,
                     limit: int, *, unacknowledged: bool = False) -> list[LabAlert]:
        """Newest first; ``unacknowledged``: only the ones still waiting for somebody."""
        await require_role_audited(self._uow_factory, self._clock, caller, *ALERT_ROLES,
                                   action=AuditAction.READ, resource_type="LabAlert",
                                   targets=[(None, patient_id)])
        async with self._reads() as uow:
            alerts = await uow.labs.alerts(patient_id, after, max(1, min(limit, 200)),
                                           unacknowledged=unacknowledged)
        # An alert carries the critical value itself: its read is patient-data access.
        # A held result's alert has no patient yet but names its candidates: each is
        # recorded, as the review queue records them.
        await self._audit.record(audit_records(
            caller, action=AuditAction.READ, resource_type="LabAlert",
            targets=[t for a in alerts for t in alert_targets(a)]
            or patients_or_none([patient_id]),
            outcome=AuditOutcome.SUCCESS, at=self._clock.now()))
        return alerts

    async def message_conflicts(self, caller: Caller, after: str | None,
                                limit: int) -> list[LabMessageConflict]:
        """Messages refused for a reused control id, kept for an operator (raw text: audited)."""
        await require_role_audited(self._uow_factory, self._clock, caller, Role.INTEGRATOR,
                                   action=AuditAction.READ, resource_type="LabMessageConflict")
        async with self._reads() as uow:
            found = await uow.labs.conflicts(after, max(1, min(limit, 200)))
        await self._audit.record(audit_records(
            caller, action=AuditAction.READ, resource_type="LabMessageConflict",
            targets=[(c.id, None) for c in found] or [(None, None)],
            outcome=AuditOutcome.SUCCESS, at=self._clock.now()))
        return found


