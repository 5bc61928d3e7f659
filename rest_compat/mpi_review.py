"""MPI review routes: decide a review task, list patient links (with why), undo a link."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from resolvers.labs.records import MpiLink, ReviewTask
from rest_compat.envelope import ok
from rest_compat.request_context import caller, parse_body, query_int, services
from rest_compat.spec import Operation, QueryParam, api_route

_ROLES = ("clinician", "integrator")


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["link", "reject"] = Field(
        description="link: the lab result belongs to this candidate; reject: it does not")


class UndoBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500,
                        description="Why the link was wrong (kept with the link)")


class ResolvedTask(BaseModel):
    id: str
    lab_result_id: str
    candidate_patient_id: str
    grade: str
    score: float
    status: str
    resolved_at: datetime | None
    resolved_by: str | None


class LinkItem(BaseModel):
    id: str
    lab_result_id: str
    patient_id: str
    method: str = Field(description="auto (certain match at ingest) or review (a person)")
    grade: str
    score: float
    field_scores: dict[str, Any] = Field(description="Match weight per compared field: why")
    review_task_id: str | None
    created_at: datetime
    created_by: str
    undone_at: datetime | None
    undone_by: str | None
    undo_reason: str | None


class LinkPage(BaseModel):
    items: list[LinkItem]
    next_cursor: str | None


def _task(t: ReviewTask) -> ResolvedTask:
    return ResolvedTask(**{k: v for k, v in t.__dict__.items() if k in ResolvedTask.model_fields})


def _link(k: MpiLink) -> LinkItem:
    return LinkItem(**k.__dict__)


async def resolve_task(request: Request) -> Response:
    who = caller(request)  # authenticate before reading the body
    body = await parse_body(request, ResolveBody)
    task = await services(request).lab_review.resolve(
        who, request.path_params["task_id"], body.decision)
    return ok(_task(task))


async def list_links(request: Request) -> Response:
    who = caller(request)  # authenticate before validating the query
    limit = query_int(request, "limit", 50)
    p = request.query_params
    links = await services(request).lab_review.links(
        who, lab_result_id=p.get("lab_result_id") or None,
        patient_id=p.get("patient_id") or None, after=p.get("cursor") or None, limit=limit)
    return ok(LinkPage(items=[_link(k) for k in links],
                       next_cursor=links[-1].id if len(links) == limit else None))


async def undo_link(request: Request) -> Response:
    who = caller(request)  # authenticate before reading the body
    body = await parse_body(request, UndoBody)
    link = await services(request).lab_review.undo(who, request.path_params["link_id"],
                                                   body.reason)
    return ok(_link(link))


class RegisterProfileView(BaseModel):
    profile: dict[str, Any] | None = Field(
        description="kind, sampled, household_share, register_size, threshold: the last "
                    "profile taken, by any gateway process (null before the first)")
    kind: str = Field(description="households, individuals or unknown (too few patients)")
    parameters: str = Field(description="The parameters the matcher uses")
    operator_parameters: bool = Field(description="An operator stored parameters, which win "
                                                  "over the profile's defaults")


async def register_profile(request: Request) -> Response:
    return ok(RegisterProfileView(**services(request).mpi_profile.current(caller(request))))


async def refresh_register_profile(request: Request) -> Response:
    view = await services(request).mpi_profile.refresh(caller(request))
    return ok(RegisterProfileView(**view))


operations: list[Operation] = [
    api_route("POST", "/api/mpi/review/{task_id}/resolve", resolve_task,
              summary="Decide a review task: link the held lab result to the candidate, or "
                      "reject the candidate", tag="labs", roles=_ROLES,
              request_model=ResolveBody, response_model=ResolvedTask,
              error_statuses=(400, 404, 409, 413, 415, 422), params=(
                  QueryParam("task_id", "Review task id", location="path", required=True),)),
    api_route("GET", "/api/mpi/links", list_links,
              summary="Patient links of lab results, newest first, with the score per field",
              tag="labs", roles=_ROLES, response_model=LinkPage, error_statuses=(422,),
              params=(QueryParam("lab_result_id", "Only this lab result"),
                      QueryParam("patient_id", "Only this patient"),
                      QueryParam("cursor", "next_cursor of the previous page"),
                      QueryParam("limit", "Page size",
                                 {"type": "integer", "minimum": 1, "maximum": 200}))),
    api_route("POST", "/api/mpi/links/{link_id}/undo", undo_link,
              summary="Undo a patient link: its results are deleted and the lab result goes "
                      "back to review", tag="labs", roles=_ROLES,
              request_model=UndoBody, response_model=LinkItem,
              error_statuses=(400, 404, 409, 413, 415, 422), params=(
                  QueryParam("link_id", "Link id", location="path", required=True),)),
    api_route("GET", "/api/mpi/profile", register_profile,
              summary="The kind of register the matcher reads (households or individuals) and "
                      "the parameters it uses for it", tag="labs", roles=("admin",),
              response_model=RegisterProfileView),
    api_route("POST", "/api/mpi/profile", refresh_register_profile,
              summary="Profile the register now (after a bulk import) and match by it",
              tag="labs", roles=("admin",), response_model=RegisterProfileView),
]
