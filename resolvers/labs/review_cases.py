"""The review queue as a person works it: one case per held lab result, the demographics the
lab sent beside each candidate patient's record, with the matcher's score per field.

``GET /api/mpi/review`` lists tasks one by one (a task is one candidate); a reviewer decides
between the candidates of one result, so the console reads cases. A case is built from the
stored message (what the lab sent, re-parsed) and the candidates' MPI records; reading it is
a read of each candidate's data and is audited as such, and the caller's ``purpose`` is kept
on the records (the console's "reveal" of masked names is one such audited read).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import audit_records
from resolvers.clock import Clock
from resolvers.labs.ports import LabUnitOfWorkFactory
from resolvers.labs.records import LabResult, ReviewTask
from resolvers.mpi.matching import MatchCandidate
from resolvers.mpi.model import Patient
from resolvers.principal import Caller, Role

# Besides admin: clinicians decide matches; integrators, who operate the gateway and see all
# its queues (issue 17: "admin and integrator see everything"), may work the queue too.
REVIEW_ROLES = (Role.CLINICIAN, Role.INTEGRATOR)
MAX_CASES = 50
# Open tasks read per page: a result has a handful of candidates (the matcher keeps five).
TASKS_PER_CASE = 5


@dataclass(frozen=True)
class ReviewCandidate:
    task: ReviewTask
    patient: Patient | None  # None: the candidate's record was removed since


@dataclass(frozen=True)
class ReviewCase:
    lab_result_id: str
    sending_facility: str
    control_id: str
    received_at: datetime
    sent: MatchCandidate  # the demographics the lab sent (PID), as the matcher read them
    candidates: tuple[ReviewCandidate, ...]  # best score first


@dataclass(frozen=True)
class ReviewCasePage:
    cases: tuple[ReviewCase, ...]
    next_cursor: str | None  # the last task id of the page: open tasks after it come next


SentDemographics = Callable[[Caller, LabResult], MatchCandidate]


async def read_cases(uow_factory: LabUnitOfWorkFactory, clock: Clock, sent: SentDemographics,
                     caller: Caller, *, after: str | None, limit: int,
                     lab_result_id: str | None = None) -> ReviewCasePage:
    """Open cases, oldest first (or the one case of ``lab_result_id``). The caller's role
    was checked by the use case that calls this."""
    limit = max(1, min(limit, MAX_CASES))
    async with uow_factory() as uow:
        if lab_result_id is not None:
            result_ids = [lab_result_id]
            cursor = None
        else:
            tasks = await uow.labs.open_review_tasks(after, limit * TASKS_PER_CASE + 1)
            result_ids = list(dict.fromkeys(t.lab_result_id for t in tasks))[:limit]
            last = [t.id for t in tasks if t.lab_result_id in result_ids]
            more = len(result_ids) == limit and any(
                t.lab_result_id not in result_ids for t in tasks)
            cursor = max(last) if more and last else None
        cases: list[ReviewCase] = []
        for result_id in result_ids:
            result = await uow.labs.get_result(result_id)
            if result is None:
                continue
            open_tasks = sorted((t for t in await uow.labs.tasks_for_result(result_id)
                                 if t.status == "open"), key=lambda t: -t.score)
            if not open_tasks:
                continue
            patients = await uow.patients.get_many([t.candidate_patient_id for t in open_tasks])
            cases.append(ReviewCase(
                lab_result_id=result.id, sending_facility=result.sending_facility,
                control_id=result.control_id, received_at=result.received_at,
                sent=sent(caller, result),
                candidates=tuple(ReviewCandidate(t, patients.get(t.candidate_patient_id))
                                 for t in open_tasks)))
        # Every candidate shown is a patient's data read (names, birth date, phone, scores).
        await uow.audit.append(audit_records(
            caller, action=AuditAction.READ, resource_type="ReviewTask",
            targets=[(c.task.id, c.task.candidate_patient_id)
                     for case in cases for c in case.candidates] or [(lab_result_id, None)],
            outcome=AuditOutcome.SUCCESS, at=clock.now()))
        await uow.commit()
    return ReviewCasePage(cases=tuple(cases), next_cursor=cursor)
