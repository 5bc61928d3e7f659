"""MPI review over GraphQL: patient links with their why, decide a review task, undo a link."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry

from resolvers.errors import DomainError
from resolvers.labs.records import MpiLink, ReviewTask
from resolvers.principal import Role
from schema.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationError,
    to_user_error,
)
from schema.graphql_context import Info
from schema.paging import page_size
from schema.permissions import has_role


@strawberry.enum
class ReviewDecision(Enum):
    LINK = "link"
    REJECT = "reject"


@strawberry.type
class ReviewTaskDecision:
    id: strawberry.ID
    lab_result_id: strawberry.ID
    candidate_patient_id: strawberry.ID
    grade: str
    score: float
    status: str
    resolved_by: str | None

    @classmethod
    def of(cls, t: ReviewTask) -> ReviewTaskDecision:
        return cls(id=strawberry.ID(t.id), lab_result_id=strawberry.ID(t.lab_result_id),
                   candidate_patient_id=strawberry.ID(t.candidate_patient_id), grade=t.grade,
                   score=t.score, status=t.status, resolved_by=t.resolved_by)


@strawberry.type
class FieldScore:
    field: str
    weight: float


@strawberry.type
class PatientLink:
    """Why a lab result is attached to a patient, and whether that was undone."""

    id: strawberry.ID
    lab_result_id: strawberry.ID
    patient_id: strawberry.ID
    method: str
    grade: str
    score: float
    field_scores: list[FieldScore]
    created_by: str
    created_at: str
    undone_at: str | None
    undone_by: str | None
    undo_reason: str | None

    @classmethod
    def of(cls, k: MpiLink) -> PatientLink:
        scores = [FieldScore(field=f, weight=float(w)) for f, w in sorted(k.field_scores.items())
                  if isinstance(w, int | float)]
        return cls(id=strawberry.ID(k.id), lab_result_id=strawberry.ID(k.lab_result_id),
                   patient_id=strawberry.ID(k.patient_id), method=k.method, grade=k.grade,
                   score=k.score, field_scores=scores, created_by=k.created_by,
                   created_at=k.created_at.isoformat(),
                   undone_at=k.undone_at.isoformat() if k.undone_at else None,
                   undone_by=k.undone_by, undo_reason=k.undo_reason)


ResolveReviewResult = Annotated[
    ReviewTaskDecision | NotFoundError | ConflictError | ValidationError | ForbiddenError,
    strawberry.union("ResolveReviewResult"),
]
UndoLinkResult = Annotated[
    PatientLink | NotFoundError | ConflictError | ValidationError | ForbiddenError,
    strawberry.union("UndoLinkResult"),
]


@strawberry.type
class ReviewQuery:
    @strawberry.field(permission_classes=[has_role(Role.CLINICIAN, Role.INTEGRATOR)],
                      description="Patient links of lab results, newest first")
    async def patient_links(self, info: Info, lab_result_id: str | None = None,
                            patient_id: str | None = None, first: int = 50,
                            after: str | None = None) -> list[PatientLink]:
        links = await info.context.services.lab_review.links(
            info.context.caller, lab_result_id=lab_result_id, patient_id=patient_id,
            after=after, limit=page_size(first))
        return [PatientLink.of(k) for k in links]


@strawberry.type
class ReviewMutation:
    @strawberry.mutation(permission_classes=[has_role(Role.CLINICIAN, Role.INTEGRATOR)],
                         description="Link the held lab result to the candidate, or reject it")
    async def resolve_review_task(self, info: Info, id: strawberry.ID,
                                  decision: ReviewDecision) -> ResolveReviewResult:
        try:
            task = await info.context.services.lab_review.resolve(
                info.context.caller, str(id), decision.value)
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return ReviewTaskDecision.of(task)

    @strawberry.mutation(permission_classes=[has_role(Role.CLINICIAN, Role.INTEGRATOR)],
                         description="Undo a patient link; the result goes back to review")
    async def undo_patient_link(self, info: Info, id: strawberry.ID,
                                reason: str) -> UndoLinkResult:
        if not reason.strip() or len(reason) > 500:
            return ValidationError(message="give a reason of 1 to 500 characters",
                                   code="invalid_input", problems=[])
        try:
            link = await info.context.services.lab_review.undo(info.context.caller, str(id),
                                                               reason)
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return PatientLink.of(link)


__all__ = ["ReviewMutation", "ReviewQuery"]
