"""LabBatchWriter: stores parsed ORU^R01 messages, several at a time, in ONE transaction.

Per message: deduplicate, check the encounter, match the patient, turn each OBR into a
DiagnosticReport and each OBX into an Observation (a corrected result becomes a new version
of the earlier one), raise critical alerts, open review tasks, record the link and audit.
Per batch, the reads and writes are shared: one duplicate lookup, one identifier lookup per
resource type, multi-row inserts for resources, results, alerts and audit records.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import audit_records
from resolvers.clock import Clock
from resolvers.errors import InvalidInput
from resolvers.fhir.model import StoredResource
from resolvers.fhir.writer import MirrorConfig, create_resources, write_resource
from resolvers.ids import new_id
from resolvers.labs.critical_alerts import alert_value, critical_alert_message, held_alerts
from resolvers.labs.critical_values import assess
from resolvers.labs.oru import OruMessage
from resolvers.labs.patient_identity import provisional_patient
from resolvers.labs.patient_notices import linked_notice
from resolvers.labs.ports import LabUnitOfWork, LabUnitOfWorkFactory
from resolvers.labs.records import (
    NEW_GRADE,
    ControlIdReused,
    IngestResult,
    LabAlert,
    LabMessageConflict,
    LabResult,
    MpiLink,
    ReviewTask,
    hl7_channel,
    same_message,
)
from resolvers.labs.to_fhir import (
    numeric_value,
    observation_identifier,
    observation_resource,
    report_identifier,
    report_resource,
)
from resolvers.labs.webhook_events import alert_raised, ingest_events
from resolvers.mpi.fhir_twin import patient_twin
from resolvers.mpi.matching import Match, MatchCandidate, MatchGrade, PatientMatcher
from resolvers.principal import Caller

log = logging.getLogger("cari.labs")
Key = tuple[str, str]


def _key(identifier: dict[str, str]) -> Key:
    return identifier["system"], identifier["value"]


@dataclass(frozen=True)
class IngestJob:
    caller: Caller
    message: OruMessage
    text: str
    facility: str
    encounter_id: str | None
    candidate: MatchCandidate

    @property
    def message_key(self) -> Key:
        return self.facility, self.message.header.control_id

    def observation_keys(self) -> list[Key]:
        return [_key(observation_identifier(self.message, order, obx))
                for order in self.message.orders for obx in order.observations]

    def report_keys(self) -> list[Key]:
        return [_key(report_identifier(self.message, order)) for order in self.message.orders]


@dataclass
class _Writes:
    """What a batch accumulates before its multi-row inserts."""

    creates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    results: list[LabResult] = field(default_factory=list)
    tasks: list[ReviewTask] = field(default_factory=list)
    alerts: list[LabAlert] = field(default_factory=list)
    links: list[MpiLink] = field(default_factory=list)
    audit: list[Any] = field(default_factory=list)
    provisional: dict[MatchCandidate, str] = field(default_factory=dict)  # -> new patient id
    conflicts: list[LabMessageConflict] = field(default_factory=list)
    # (type, system, value) of results written in this transaction: a repeat updates them.
    pending: dict[tuple[str, str, str], int] = field(default_factory=dict)  # -> creates index
    written: dict[tuple[str, str, str], StoredResource] = field(default_factory=dict)
    corrected: set[str] = field(default_factory=set)  # Observations a correction versioned


class LabBatchWriter:
    def __init__(self, uow_factory: LabUnitOfWorkFactory, clock: Clock, matcher: PatientMatcher,
                 mirror: MirrorConfig, *, provisional_patients: bool = True,
                 notify_linked: bool = False) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._matcher = matcher
        self._mirror = mirror
        self._provisional_patients = provisional_patients
        # A LAB_RESULT_LINKED notice per result given a patient (patient messaging is on).
        self.notify_linked = notify_linked

    @property
    def mirror(self) -> MirrorConfig:
        return self._mirror

    async def write(self, jobs: Sequence[IngestJob]) -> list[IngestResult | BaseException]:
        now = self._clock.now()
        outcomes: list[IngestResult | BaseException | None] = [None] * len(jobs)
        async with self._uow_factory() as uow:
            firsts = await uow.labs.find_messages([j.message_key for j in jobs])
            encounter_ids = sorted({j.encounter_id for j in jobs if j.encounter_id})
            encounters = await uow.fhir.get_many("Encounter", encounter_ids)
            todo: list[tuple[int, IngestJob]] = []
            writes = _Writes()
            for i, job in enumerate(jobs):
                first = firsts.get(job.message_key)
                if first is not None and same_message(first.raw_message, job.text):
                    # The same message again: answer as the first time.
                    outcomes[i] = IngestResult.of(first, duplicate=True,
                                                  warnings=job.message.warnings)
                elif first is not None:  # a reused control id: refuse, keep it for an operator
                    conflict = message_conflict(job, first.id, now)
                    writes.conflicts.append(conflict)
                    outcomes[i] = ControlIdReused(job.facility, conflict.control_id, first.id,
                                                  conflict.id)
                elif job.encounter_id and (job.encounter_id not in encounters
                                           or encounters[job.encounter_id].deleted):
                    outcomes[i] = InvalidInput(f"no encounter with id {job.encounter_id!r}",
                                               details=[{"field": "encounter_id",
                                                         "message": "unknown encounter"}])
                else:
                    todo.append((i, job))
            # Two processes ingesting results for one unknown patient must make one patient:
            # its identifiers are held until commit, before the match looks for it.
            await uow.labs.lock_result_keys(sorted({
                f"Patient|{i.system}|{i.value}" for _i, job in todo
                for i in job.candidate.identifiers}))
            matches = await self._match(uow, [job for _i, job in todo])
            if self._provisional_patients:
                await self._provisional(uow, [job for _i, job in todo], matches, writes, now)
            linked = [job for _i, job in todo if _certain(matches[job.candidate])
                      or job.candidate in writes.provisional]
            await _lock_results(uow, linked)
            existing = await uow.fhir.find_by_identifier(
                "Observation", [k for job in linked for k in job.observation_keys()])
            existing_reports = await uow.fhir.find_by_identifier(
                "DiagnosticReport", [k for job in linked for k in job.report_keys()])
            for i, job in todo:
                result = await self._prepare(uow, job, matches[job.candidate], existing,
                                             existing_reports, writes, now)
                outcomes[i] = IngestResult.of(result, duplicate=False,
                                              warnings=job.message.warnings)
            await create_resources(uow, writes.creates, now=now, mirror=self._mirror)
            await uow.labs.add_results(writes.results)
            await uow.labs.add_review_tasks(writes.tasks)
            await uow.labs.add_links(writes.links)
            await uow.labs.add_alerts(writes.alerts)
            await uow.labs.add_conflicts(writes.conflicts)
            await uow.outbox.enqueue([
                *(critical_alert_message(a) for a in writes.alerts),
                *ingest_events(writes.results, writes.corrected, writes.alerts, writes.tasks,
                               writes.links, now),
                *(linked_notice(r.id, r.patient_id) for r in writes.results
                  if self.notify_linked and r.patient_id is not None)])
            await uow.audit.append(writes.audit)
            await uow.commit()
        if writes.results:
            log.info("lab messages ingested", extra={"count": len(writes.results)})
        return [o if o is not None else RuntimeError("lab job without outcome") for o in outcomes]

    async def attach(self, uow: LabUnitOfWork, job: IngestJob, patient_id: str, result_id: str,
                     now: datetime) -> tuple[list[str], list[str], list[LabAlert]]:
        """Store a message's results for ``patient_id`` inside the caller's unit of work
        (a review decision that links a result held for review)."""
        await _lock_results(uow, [job])
        existing = await uow.fhir.find_by_identifier("Observation", job.observation_keys())
        existing_reports = await uow.fhir.find_by_identifier("DiagnosticReport",
                                                             job.report_keys())
        writes = _Writes()
        reports, observations = await self._resources(uow, job, patient_id, result_id, existing,
                                                      existing_reports, writes, now)
        await create_resources(uow, writes.creates, now=now, mirror=self._mirror)
        # The alerts raised while the result was held become this patient's: no second alert
        # for the same value (the first may already have been acknowledged).
        held: dict[str, list[LabAlert]] = {}
        for alert in await uow.labs.alerts_for_result(result_id):
            if alert.patient_id is None:
                held.setdefault(alert.code, []).append(alert)
        alerts: list[LabAlert] = []
        fresh: list[LabAlert] = []
        for alert in writes.alerts:
            earlier = held.get(alert.code)
            if earlier and alert.observation_id is not None:
                first = earlier.pop(0)
                await uow.labs.attach_alert(first.id, patient_id, alert.observation_id)
                alerts.append(replace(first, patient_id=patient_id,
                                      observation_id=alert.observation_id))
            else:
                fresh.append(alert)
        await uow.labs.add_alerts(fresh)
        await uow.outbox.enqueue([*(critical_alert_message(a) for a in fresh),
                                  *(alert_raised(a, now) for a in fresh)])
        return reports, observations, alerts + fresh

    async def _match(self, uow: LabUnitOfWork, jobs: Sequence[IngestJob],
                     ) -> dict[MatchCandidate, list[Match]]:
        # The same demographics in one transaction get the same answer: look them up once.
        found: dict[MatchCandidate, list[Match]] = {}
        for job in jobs:
            if job.candidate not in found:
                found[job.candidate] = list(await self._matcher.match_within(uow, job.candidate))
        return found

    async def _prepare(self, uow: LabUnitOfWork, job: IngestJob, matches: list[Match],
                       existing: dict[Key, StoredResource],
                       existing_reports: dict[Key, StoredResource], writes: _Writes,
                       now: datetime) -> LabResult:
        best = matches[0] if matches else None
        linked = _certain(matches)
        patient_id = best.patient_id if linked and best else None
        grade = best.grade.value if best else MatchGrade.NONE.value
        score = best.score if best else 0.0
        new_patient = writes.provisional.get(job.candidate)
        if new_patient is not None and not linked:
            linked, patient_id, grade, score = True, new_patient, NEW_GRADE, 1.0
        result_id = new_id()
        reports: list[str] = []
        observations: list[str] = []
        alert_count = len(writes.alerts)
        if patient_id is not None:
            reports, observations = await self._resources(
                uow, job, patient_id, result_id, existing, existing_reports, writes, now)
            writes.links.append(MpiLink(
                id=new_id(), lab_result_id=result_id, patient_id=patient_id, method="auto",
                grade=grade, score=score,
                field_scores=dict(best.field_scores) if best and new_patient is None else {},
                review_task_id=None, created_at=now, created_by=job.caller.principal.subject))
        tasks = [] if linked else review_tasks(
            result_id, [m for m in matches if m.grade in (MatchGrade.PROBABLE,
                                                          MatchGrade.POSSIBLE)], now)
        writes.tasks.extend(tasks)
        if not linked:
            # Held for review (or unmatched): a critical value still reaches someone now.
            writes.alerts.extend(held_alerts(job.message, result_id, tasks, now))
        result = LabResult(
            id=result_id, sending_facility=job.facility, control_id=job.message.header.control_id,
            received_at=now, patient_id=patient_id, match_grade=grade,
            match_score=score, encounter_id=job.encounter_id,
            status="linked" if linked else ("review" if tasks else "unmatched"),
            observations_created=len(observations),
            critical_count=len(writes.alerts) - alert_count,
            report_ids=tuple(reports), observation_ids=tuple(observations), raw_message=job.text,
            channel=hl7_channel(job.caller.surface))
        writes.results.append(result)
        writes.audit.extend(audit_records(
            job.caller, action=AuditAction.CREATE, resource_type="LabResult",
            targets=[(result_id, patient_id)], outcome=AuditOutcome.SUCCESS, at=now))
        return result

    async def _provisional(self, uow: LabUnitOfWork, jobs: Sequence[IngestJob],
                           matches: dict[MatchCandidate, list[Match]], writes: _Writes,
                           now: datetime) -> None:
        """No candidate at all: the patient is new to the MPI. Create it from the PID, tagged
        provisional with the laboratory as its source, so the results are visible at once.
        Not when any of its identifiers already names a patient (that is for a person)."""
        for job in jobs:
            candidate = job.candidate
            if matches[candidate] or candidate in writes.provisional:
                continue
            if not (candidate.family or candidate.given) or not candidate.identifiers:
                continue  # nothing a person could recognise later: leave it unmatched
            taken = [await uow.patients.find_by_identifier(i) for i in candidate.identifiers]
            if any(p is not None for p in taken):
                continue
            patient_id = new_id()
            stored = await write_resource(uow, provisional_patient(job.message, candidate,
                                                                   patient_id),
                                          resource_id=patient_id, expected_version=None, now=now,
                                          mirror=self._mirror, twin=patient_twin(uow))
            writes.provisional[candidate] = stored.id
            writes.audit.extend(audit_records(
                job.caller, action=AuditAction.CREATE, resource_type="Patient",
                targets=[(stored.id, stored.id)], outcome=AuditOutcome.SUCCESS, at=now))

    async def _resources(self, uow: LabUnitOfWork, job: IngestJob, patient_id: str, result_id: str,
                         existing: dict[Key, StoredResource],
                         existing_reports: dict[Key, StoredResource], writes: _Writes,
                         now: datetime) -> tuple[list[str], list[str]]:
        message = job.message
        patient_ref = f"Patient/{patient_id}"
        reports: list[str] = []
        observations: list[str] = []
        for order in message.orders:
            refs = []
            for obx in order.observations:
                resource = observation_resource(message, order, obx, patient_ref)
                if job.encounter_id:
                    resource["encounter"] = {"reference": f"Encounter/{job.encounter_id}"}
                earlier = existing.get(_key(observation_identifier(message, order, obx)))
                oid = await self._upsert(uow, resource, earlier, writes, now)
                if earlier is not None and obx.status == "C":  # OBX-11 C: a correction
                    writes.corrected.add(oid)
                if oid not in observations:  # a repeated OBX is the same Observation
                    refs.append(f"Observation/{oid}")
                    observations.append(oid)
                finding = assess(obx.code, numeric_value(obx), obx.units, obx.abnormal_flags)
                if finding.critical:
                    writes.alerts.append(LabAlert(
                        id=new_id(), lab_result_id=result_id, observation_id=oid,
                        patient_id=patient_id, code=obx.code,
                        value=alert_value(obx.values, obx.units),
                        direction=finding.direction, reason=finding.reason[:500],
                        recipient=order.ordering_provider or "ward-on-call", created_at=now))
            report = report_resource(message, order, patient_ref, refs)
            if job.encounter_id:
                report["encounter"] = {"reference": f"Encounter/{job.encounter_id}"}
            report_id = await self._upsert(uow, report, existing_reports.get(
                _key(report_identifier(message, order))), writes, now)
            if report_id not in reports:
                reports.append(report_id)
        return reports, observations

    async def _upsert(self, uow: LabUnitOfWork, resource: dict[str, Any],
                      current: StoredResource | None, writes: _Writes, now: datetime) -> str:
        """A corrected result replaces the earlier version instead of adding a duplicate.
        The same result twice in one transaction (a sender repeating an OBX) is one
        resource: the later segment wins."""
        key = (str(resource["resourceType"]), *_key(resource["identifier"][0]))
        if key in writes.pending:
            position = writes.pending[key]
            rid = writes.creates[position][0]
            writes.creates[position] = (rid, resource)
            return rid
        if key in writes.written:
            current = writes.written[key]
        if current is None:
            rid = new_id()
            writes.pending[key] = len(writes.creates)
            writes.creates.append((rid, resource))  # written with the batch's bulk insert
            return rid
        stored = await write_resource(uow, resource, resource_id=current.id,
                                      expected_version=current.version, now=now,
                                      mirror=self._mirror)
        writes.written[key] = stored
        return stored.id


async def _lock_results(uow: LabUnitOfWork, jobs: Sequence[IngestJob]) -> None:
    """Another gateway process may be writing the same results (an original and its
    correction sent to two processes): hold their identifiers until commit, so the later
    transaction finds the earlier one's Observations instead of creating twins."""
    await uow.labs.lock_result_keys(sorted({
        f"{kind}|{system}|{value}" for job in jobs
        for kind, keys in (("Observation", job.observation_keys()),
                           ("DiagnosticReport", job.report_keys()))
        for system, value in keys}))


def review_tasks(result_id: str, candidates: Sequence[Match],
                 now: datetime) -> list[ReviewTask]:
    """An open review task per candidate, with its score per field."""
    return [ReviewTask(id=new_id(), lab_result_id=result_id, candidate_patient_id=m.patient_id,
                       grade=m.grade.value, score=m.score, field_scores=dict(m.field_scores),
                       status="open", created_at=now) for m in candidates]


def message_conflict(job: IngestJob, first_result_id: str, now: datetime) -> LabMessageConflict:
    return LabMessageConflict(
        id=new_id(), sending_facility=job.facility, control_id=job.message.header.control_id,
        first_result_id=first_result_id, received_at=now,
        received_by=job.caller.principal.subject, raw_message=job.text)


def _certain(matches: Sequence[Match]) -> bool:
    return bool(matches) and matches[0].grade == MatchGrade.CERTAIN
