"""Ingest an ORU^R01 lab message: parse, deduplicate, match the patient, store, alert.

Everything a message produces (FHIR DiagnosticReports and Observations, the lab result row,
review tasks, critical alerts, outbox deliveries and the audit record) is written in ONE
transaction, committed before the caller is answered. A message whose patient cannot be
matched with certainty is stored too, for review, never dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import audit_records
from resolvers.errors import InvalidInput
from resolvers.fhir.model import Condition, SearchRequest, StoredResource
from resolvers.fhir.writer import MirrorConfig, write_resource
from resolvers.ids import new_id
from resolvers.labs.critical_values import assess
from resolvers.labs.model import OruMessage
from resolvers.labs.records import DuplicateMessage, LabAlert, LabResult, ReviewTask
from resolvers.labs.to_fhir import (
    numeric_value,
    observation_identifier,
    observation_resource,
    report_identifier,
    report_resource,
)
from resolvers.mpi.matching import MatchCandidate, MatchGrade, PatientMatcher
from resolvers.mpi.model import Identifier
from resolvers.outbox.model import NewOutboxMessage
from resolvers.ports import Clock, UnitOfWork, UnitOfWorkFactory
from resolvers.principal import Caller, Role, require_role

log = logging.getLogger("cari.labs")
LAB_ALERTS = "lab_alerts"  # outbox destination: the ordering clinician's channel
GENDER = {"F": "female", "M": "male", "U": "unknown", "O": "other", "A": "other", "N": "other"}


def _key(identifier: dict[str, str]) -> tuple[str, str]:
    return identifier["system"], identifier["value"]


class Hl7Parser(Protocol):
    def parse_oru(self, raw: bytes | str) -> OruMessage:
        """Raise resolvers.labs.model.UnsupportedMessage / MalformedMessage."""
        ...


@dataclass(frozen=True)
class IngestResult:
    lab_result_id: str
    patient_matched: bool
    patient_id: str | None
    observations_created: int
    duplicate: bool
    match_grade: str
    critical_count: int

    def to_json(self) -> dict[str, Any]:
        return {"lab_result_id": self.lab_result_id, "patient_matched": self.patient_matched,
                "patient_id": self.patient_id, "observations_created": self.observations_created}


def candidate_from(message: OruMessage) -> MatchCandidate:
    pid = message.patient
    birth = None
    if pid.birth_date_iso and len(pid.birth_date_iso) >= 10:
        try:
            birth = date.fromisoformat(pid.birth_date_iso[:10])
        except ValueError:
            birth = None
    identifiers = tuple(Identifier(i.system, i.value) for i in pid.identifiers if i.value)
    return MatchCandidate(
        identifiers=identifiers, family=pid.family or None, given=pid.given,
        birth_date=birth, gender=GENDER.get(pid.sex.upper()) if pid.sex else None,
        phone=pid.phones[0] if pid.phones else None,
        address=" ".join(x for x in (*pid.address_lines, pid.city, pid.district) if x) or None,
        trusted_identifier_systems=frozenset(i.system for i in identifiers))


class LabIngest:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, parser: Hl7Parser,
                 matcher: PatientMatcher, mirror: MirrorConfig) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._parser = parser
        self._matcher = matcher
        self._mirror = mirror

    async def ingest(self, caller: Caller, raw: bytes | str, *,
                     encounter_id: str | None = None,
                     roles: Sequence[Role] = (Role.LAB,)) -> IngestResult:
        require_role(caller, *roles)
        message = self._parser.parse_oru(raw)  # raises before anything is stored
        return await self.ingest_parsed(caller, message, raw, encounter_id=encounter_id)

    async def ingest_parsed(self, caller: Caller, message: OruMessage, raw: bytes | str, *,
                            encounter_id: str | None = None) -> IngestResult:
        """For surfaces that parsed already (MLLP needs the header for its ACK anyway)."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        header = message.header
        facility = header.sending_facility or header.sending_application
        async with self._uow_factory() as uow:
            first = await uow.labs.find_message(facility, header.control_id)
            if first is not None:  # the same message again: answer as the first time
                return self._result(first, duplicate=True)
        try:
            return await self._store(caller, message, text, facility, encounter_id)
        except DuplicateMessage:
            # A concurrent request stored the same message first: answer with its result.
            async with self._uow_factory() as uow:
                first = await uow.labs.find_message(facility, header.control_id)
            if first is None:
                raise
            return self._result(first, duplicate=True)

    async def _store(self, caller: Caller, message: OruMessage, text: str, facility: str,
                     encounter_id: str | None) -> IngestResult:
        header = message.header
        matches = await self._matcher.match(candidate_from(message))
        best = matches[0] if matches else None
        now = self._clock.now()
        async with self._uow_factory() as uow:
            if encounter_id is not None:
                encounter = (await uow.fhir.get_many("Encounter", [encounter_id])).get(encounter_id)
                if encounter is None or encounter.deleted:
                    raise InvalidInput(f"no encounter with id {encounter_id!r}", details=[
                        {"field": "encounter_id", "message": "unknown encounter"}])
            linked = best is not None and best.grade == MatchGrade.CERTAIN
            patient_id = best.patient_id if linked and best else None
            result_id = new_id()
            reports: list[str] = []
            observations: list[str] = []
            alerts: list[LabAlert] = []
            if patient_id is not None:
                reports, observations, alerts = await self._store_resources(
                    uow, message, patient_id, encounter_id, result_id, now)
            tasks = [ReviewTask(id=new_id(), lab_result_id=result_id,
                                candidate_patient_id=m.patient_id, grade=m.grade.value,
                                score=m.score, field_scores=dict(m.field_scores), status="open",
                                created_at=now)
                     for m in matches if not linked and m.grade in (MatchGrade.PROBABLE,
                                                                    MatchGrade.POSSIBLE)]
            result = LabResult(
                id=result_id, sending_facility=facility, control_id=header.control_id,
                received_at=now, patient_id=patient_id,
                match_grade=best.grade.value if best else MatchGrade.NONE.value,
                match_score=best.score if best else 0.0, encounter_id=encounter_id,
                status="linked" if linked else ("review" if tasks else "unmatched"),
                observations_created=len(observations), critical_count=len(alerts),
                report_ids=tuple(reports), observation_ids=tuple(observations), raw_message=text)
            await uow.labs.add_result(result)
            await uow.labs.add_review_tasks(tasks)
            await uow.labs.add_alerts(alerts)
            await uow.outbox.enqueue([NewOutboxMessage(
                LAB_ALERTS, {"type": "lab.critical", "alert_id": a.id, "recipient": a.recipient,
                             "patient_id": a.patient_id, "code": a.code, "value": a.value,
                             "direction": a.direction, "reason": a.reason},
                f"lab-alert:{a.id}") for a in alerts])
            await uow.audit.append(audit_records(
                caller, action=AuditAction.CREATE, resource_type="LabResult",
                targets=[(result_id, patient_id)], outcome=AuditOutcome.SUCCESS, at=now))
            await uow.commit()
        log.info("lab message ingested", extra={"count": len(observations)})
        return self._result(result, duplicate=False)

    @staticmethod
    def _result(result: LabResult, *, duplicate: bool) -> IngestResult:
        return IngestResult(lab_result_id=result.id, patient_matched=result.status == "linked",
                            patient_id=result.patient_id,
                            observations_created=result.observations_created,
                            duplicate=duplicate, match_grade=result.match_grade,
                            critical_count=result.critical_count)

    async def _store_resources(
        self, uow: UnitOfWork, message: OruMessage, patient_id: str, encounter_id: str | None,
        result_id: str, now: Any,
    ) -> tuple[list[str], list[str], list[LabAlert]]:
        patient_ref = f"Patient/{patient_id}"
        # One search finds every result of this message that was stored before (corrections).
        existing = await self._existing_by_identifier(uow, "Observation", [
            observation_identifier(message, order, obx)
            for order in message.orders for obx in order.observations])
        existing_reports = await self._existing_by_identifier(uow, "DiagnosticReport", [
            report_identifier(message, order) for order in message.orders])
        reports: list[str] = []
        observations: list[str] = []
        alerts: list[LabAlert] = []
        for order in message.orders:
            refs = []
            for obx in order.observations:
                resource = observation_resource(message, order, obx, patient_ref)
                if encounter_id:
                    resource["encounter"] = {"reference": f"Encounter/{encounter_id}"}
                stored = await self._upsert(
                    uow, resource, existing.get(_key(observation_identifier(message, order, obx))),
                    now)
                refs.append(f"Observation/{stored.id}")
                observations.append(stored.id)
                finding = assess(obx.code, numeric_value(obx), obx.units, obx.abnormal_flags)
                if finding.critical:
                    alerts.append(LabAlert(
                        id=new_id(), lab_result_id=result_id, observation_id=stored.id,
                        patient_id=patient_id, code=obx.code,
                        value=" ".join(v for v in obx.values if v)[:200] + (
                            f" {obx.units}" if obx.units else ""),
                        direction=finding.direction, reason=finding.reason[:500],
                        recipient=order.ordering_provider or "ward-on-call", created_at=now))
            report = report_resource(message, order, patient_ref, refs)
            if encounter_id:
                report["encounter"] = {"reference": f"Encounter/{encounter_id}"}
            stored_report = await self._upsert(
                uow, report, existing_reports.get(_key(report_identifier(message, order))), now)
            reports.append(stored_report.id)
        return reports, observations, alerts

    @staticmethod
    async def _existing_by_identifier(uow: UnitOfWork, resource_type: str,
                                      identifiers: Sequence[dict[str, str]],
                                      ) -> dict[tuple[str, str], StoredResource]:
        if not identifiers:
            return {}
        wanted = {_key(i) for i in identifiers}
        # Built directly, not parsed: identifier values may hold commas and bars.
        condition = Condition("identifier", "token", tuple(sorted(wanted)))
        page = await uow.fhir.search(SearchRequest(resource_type, (condition,),
                                                   count=len(wanted) + 1))
        found: dict[tuple[str, str], StoredResource] = {}
        for stored in page.resources:
            for ident in stored.document.get("identifier") or []:
                key = (str(ident.get("system")), str(ident.get("value")))
                if key in wanted:
                    found[key] = stored
        return found

    async def _upsert(self, uow: UnitOfWork, resource: dict[str, Any],
                      current: StoredResource | None, now: Any) -> StoredResource:
        """A corrected result replaces the earlier version instead of adding a duplicate."""
        return await write_resource(
            uow, resource, resource_id=current.id if current else None,
            expected_version=current.version if current else None, now=now, mirror=self._mirror)
