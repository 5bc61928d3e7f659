"""MatchReview: a person decides the matches the MPI was not certain of, and can undo a link.

* Resolving a review task with ``link`` attaches the held lab result to that candidate: its
  Observations and DiagnosticReports are created from the stored message, critical values
  alert, the other open tasks of the result are superseded, and a link records the decision
  with the task's score per field.
* ``reject`` closes the task; when no open task is left the result is ``unmatched``.
* Undoing a link (automatic or by review) deletes the results it created for that patient,
  marks the link undone (who, when, why), and puts the lab result back in the review queue
  with the other candidates the matcher finds now (never the patient just unlinked).

Every decision is a compare-and-set on the task, link and result status, so two people
deciding at once cannot both win; every decision is audited.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Literal

from resolvers.audit.access import patients_or_none, require_role_audited
from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import audit_records
from resolvers.clock import Clock
from resolvers.errors import Conflict, NotFound
from resolvers.fhir.writer import delete_resource
from resolvers.ids import new_id
from resolvers.labs.batch_writer import IngestJob, review_tasks
from resolvers.labs.ingest import LabIngest
from resolvers.labs.patient_notices import linked_notice
from resolvers.labs.ports import LabUnitOfWork, LabUnitOfWorkFactory
from resolvers.labs.records import LabResult, MpiLink, ReviewTask
from resolvers.labs.review_cases import REVIEW_ROLES, ReviewCasePage, read_cases
from resolvers.labs.webhook_events import link_created, link_undone, review_created
from resolvers.mpi.matching import MatchGrade, PatientMatcher
from resolvers.principal import Caller

Decision = Literal["link", "reject"]
REVIEW_GRADES = (MatchGrade.CERTAIN, MatchGrade.PROBABLE, MatchGrade.POSSIBLE)


class MatchReview:
    def __init__(self, uow_factory: LabUnitOfWorkFactory, clock: Clock, ingest: LabIngest,
                 matcher: PatientMatcher) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._ingest = ingest
        self._matcher = matcher
        self._writer = ingest.writer

    async def resolve(self, caller: Caller, task_id: str, decision: Decision) -> ReviewTask:
        await require_role_audited(self._uow_factory, self._clock, caller, *REVIEW_ROLES,
                                   action=AuditAction.UPDATE, resource_type="ReviewTask",
                                   targets=[(task_id, None)])
        now = self._clock.now()
        who = caller.principal.subject
        async with self._uow_factory() as uow:
            task = await uow.labs.get_task(task_id)
            if task is None:
                await self._record_not_found(uow, caller, "ReviewTask", task_id)
                raise NotFound(f"no review task with id {task_id!r}",
                               reason_code="review.task_not_found", params={"id": task_id})
            if task.status != "open":
                raise Conflict(f"the review task is already {task.status}",
                               reason_code="review.task_already_decided",
                               params={"status": task.status})
            result = await uow.labs.get_result(task.lab_result_id)
            if result is None:  # pragma: no cover - tasks are written with their result
                raise NotFound("the lab result of this task is gone", reason_code="review.result_gone")
            decided = replace(task, status="linked" if decision == "link" else "rejected",
                              resolved_at=now, resolved_by=who)
            if not await uow.labs.update_task(decided, expected_status="open"):
                raise Conflict("the review task was decided meanwhile",
                               reason_code="review.task_decided_meanwhile")
            if decision == "link":
                await self._link(uow, caller, result, task, now)
            else:
                others = [t for t in await uow.labs.tasks_for_result(result.id)
                          if t.status == "open" and t.id != task.id]
                if not others and result.status == "review":
                    await uow.labs.update_result(replace(result, status="unmatched"),
                                                 expected_status="review")
            await uow.audit.append(audit_records(
                caller, action=AuditAction.UPDATE, resource_type="LabResult",
                targets=[(result.id, task.candidate_patient_id)],
                outcome=AuditOutcome.SUCCESS, at=now))
            await uow.commit()
        return decided

    async def _link(self, uow: LabUnitOfWork, caller: Caller, result: LabResult,
                    task: ReviewTask, now: datetime) -> None:
        if result.status == "linked":
            raise Conflict("the lab result is already linked to a patient; undo that link first",
                           reason_code="review.result_already_linked")
        job = self._job(caller, result)
        reports, observations, alerts = await self._writer.attach(
            uow, job, task.candidate_patient_id, result.id, now)
        linked = replace(result, patient_id=task.candidate_patient_id, status="linked",
                         match_grade=task.grade, match_score=task.score,
                         report_ids=tuple(reports), observation_ids=tuple(observations),
                         observations_created=len(observations), critical_count=len(alerts))
        if not await uow.labs.update_result(linked, expected_status=result.status):
            raise Conflict("the lab result was changed meanwhile",
                           reason_code="review.result_changed_meanwhile")
        for other in await uow.labs.tasks_for_result(result.id):
            if other.status == "open" and other.id != task.id:
                await uow.labs.update_task(replace(other, status="superseded", resolved_at=now,
                                                   resolved_by=caller.principal.subject),
                                           expected_status="open")
        link = MpiLink(
            id=new_id(), lab_result_id=result.id, patient_id=task.candidate_patient_id,
            method="review", grade=task.grade, score=task.score,
            field_scores=dict(task.field_scores), review_task_id=task.id,
            created_at=now, created_by=caller.principal.subject)
        await uow.labs.add_links([link])
        await uow.outbox.enqueue([link_created(link, now), *(
            [linked_notice(result.id, link.patient_id)] if self._writer.notify_linked else [])])

    async def undo(self, caller: Caller, link_id: str, reason: str) -> MpiLink:
        await require_role_audited(self._uow_factory, self._clock, caller, *REVIEW_ROLES,
                                   action=AuditAction.UPDATE, resource_type="MpiLink",
                                   targets=[(link_id, None)])
        now = self._clock.now()
        async with self._uow_factory() as uow:
            link = await uow.labs.get_link(link_id)
            if link is None:
                await self._record_not_found(uow, caller, "MpiLink", link_id)
                raise NotFound(f"no patient link with id {link_id!r}",
                               reason_code="review.link_not_found", params={"id": link_id})
            if link.undone_at is not None:
                raise Conflict("the link is already undone", reason_code="review.link_already_undone")
            result = await uow.labs.get_result(link.lab_result_id)
            if result is None or result.status != "linked" or result.patient_id != link.patient_id:
                raise Conflict("the lab result is no longer linked by this link",
                               reason_code="review.link_superseded")
            undone = replace(link, undone_at=now, undone_by=caller.principal.subject,
                             undo_reason=reason)
            if not await uow.labs.undo_link(undone):
                raise Conflict("the link was undone meanwhile",
                               reason_code="review.link_undone_meanwhile")
            for resource_type, ids in (("Observation", result.observation_ids),
                                       ("DiagnosticReport", result.report_ids)):
                current = await uow.fhir.get_many(resource_type, list(ids))
                for stored in current.values():
                    if not stored.deleted:
                        await delete_resource(uow, stored, now, mirror=self._writer.mirror)
            tasks = await self._reopen(uow, caller, result, exclude=link.patient_id, now=now)
            await uow.outbox.enqueue([link_undone(link, now),
                                      *(review_created(t, now) for t in tasks)])
            # Its critical alerts no longer concern the unlinked patient: held again, naming
            # the candidates now under review (a later link adopts them).
            await uow.labs.hold_alerts(result.id, tuple(
                {"patient_id": t.candidate_patient_id, "review_task_id": t.id,
                 "grade": t.grade, "score": round(t.score, 6)} for t in tasks))
            held = replace(result, patient_id=None, status="review" if tasks else "unmatched",
                           report_ids=(), observation_ids=(), observations_created=0,
                           critical_count=0)
            if not await uow.labs.update_result(held, expected_status="linked"):
                raise Conflict("the lab result was changed meanwhile",
                               reason_code="review.result_changed_meanwhile")
            await uow.audit.append(audit_records(
                caller, action=AuditAction.UPDATE, resource_type="LabResult",
                targets=[(result.id, link.patient_id)], outcome=AuditOutcome.SUCCESS, at=now))
            await uow.commit()
        return undone

    async def links(self, caller: Caller, *, lab_result_id: str | None, patient_id: str | None,
                    after: str | None, limit: int) -> list[MpiLink]:
        await require_role_audited(self._uow_factory, self._clock, caller, *REVIEW_ROLES,
                                   action=AuditAction.READ, resource_type="MpiLink",
                                   targets=[(None, patient_id)])
        async with self._uow_factory() as uow:
            found = await uow.labs.links(lab_result_id, patient_id, after,
                                         max(1, min(limit, 200)))
            # A link says which patient a lab result belongs to, and why (score per field).
            await uow.audit.append(audit_records(
                caller, action=AuditAction.READ, resource_type="MpiLink",
                targets=[(k.id, k.patient_id) for k in found] or patients_or_none([patient_id]),
                outcome=AuditOutcome.SUCCESS, at=self._clock.now()))
            await uow.commit()
        return found

    async def cases(self, caller: Caller, *, after: str | None = None, limit: int = 20,
                    lab_result_id: str | None = None) -> ReviewCasePage:
        """The open queue grouped by lab result: what the lab sent beside each candidate's
        record and scores (see :mod:`resolvers.labs.review_cases`); audited per candidate."""
        await require_role_audited(self._uow_factory, self._clock, caller, *REVIEW_ROLES,
                                   action=AuditAction.READ, resource_type="ReviewTask",
                                   targets=[(lab_result_id, None)])
        return await read_cases(self._uow_factory, self._clock,
                                lambda who, result: self._job(who, result).candidate, caller,
                                after=after, limit=limit, lab_result_id=lab_result_id)

    async def _record_not_found(self, uow: LabUnitOfWork, caller: Caller, resource_type: str,
                                resource_id: str) -> None:
        # Committed on its own: the decision it was part of is not made.
        await uow.audit.append(audit_records(
            caller, action=AuditAction.UPDATE, resource_type=resource_type,
            targets=[(resource_id, None)], outcome=AuditOutcome.NOT_FOUND,
            at=self._clock.now()))
        await uow.commit()

    async def _reopen(self, uow: LabUnitOfWork, caller: Caller, result: LabResult, *,
                      exclude: str, now: datetime) -> list[ReviewTask]:
        """Back to the queue: the candidates the matcher finds now, minus the unlinked one."""
        job = self._job(caller, result)
        matches = await self._matcher.match_within(uow, job.candidate)
        tasks = review_tasks(result.id, [m for m in matches if m.patient_id != exclude
                                         and m.grade in REVIEW_GRADES], now)
        await uow.labs.add_review_tasks(tasks)
        return tasks

    def _job(self, caller: Caller, result: LabResult) -> IngestJob:
        return self._ingest.reparse(caller, result.raw_message, result.sending_facility,
                                    result.encounter_id)
