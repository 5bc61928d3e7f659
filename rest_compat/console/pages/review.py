"""The MPI review queue: each held lab result with what the lab sent beside its candidates'
records and the matcher's score per field; link, reject, and undo a recent link.

Names, identifiers, phones and birth dates are masked until the operator reveals one case
(a POST with the CSRF token; the use case records that read with the purpose ``reveal``).
Every action is a POST (htmx, or a plain form without JavaScript) calling the same
``MatchReview`` use case as ``/api/mpi/review`` and GraphQL, which checks the role and audits.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Any

from starlette.responses import RedirectResponse, Response

from resolvers.errors import Conflict, InvalidInput, NotFound
from resolvers.labs.records import MpiLink
from resolvers.labs.review_cases import ReviewCase
from resolvers.mpi.model import Identifier
from resolvers.principal import Role
from rest_compat.console.errors import error_text
from rest_compat.console.framework import ConsoleRequest, Page
from rest_compat.console.masking import (
    mask_date,
    mask_identifier,
    mask_phone,
    mask_word,
    mask_words,
)

PAGE_SIZE = 10
RECENT_LINKS = 20
ROLES = frozenset({Role.CLINICIAN.value})
# The rows of a case, in the order a person compares them; the keys are the matcher's.
FIELDS = ("family", "given", "birth_date", "sex", "phone", "identifier", "address")


@dataclass(frozen=True)
class Cell:
    value: str
    weight: float | None = None  # the matcher's weight for this field (positive: agrees)


@dataclass(frozen=True)
class Column:
    task_id: str
    patient_id: str
    grade: str
    score: float
    cells: dict[str, Cell]
    missing: bool  # the candidate's record is gone


@dataclass(frozen=True)
class CaseView:
    lab_result_id: str
    sending_facility: str
    control_id: str
    received_at: str
    sent: dict[str, Cell]
    columns: list[Column]
    revealed: bool


def _identifiers(ids: tuple[Identifier, ...], revealed: bool) -> str:
    shown = [(i.value if revealed else mask_identifier(i.value)) for i in ids]
    return ", ".join(shown)


def _cells(*, family: str | None, given: tuple[str, ...], birth_date: str | None,
           sex: str | None, phone: str | None, identifiers: tuple[Identifier, ...],
           address: str | None, revealed: bool, weights: dict[str, Any]) -> dict[str, Cell]:
    values = {
        "family": (family or "") if revealed else mask_word(family),
        "given": " ".join(given) if revealed else mask_words(given),
        "birth_date": (birth_date or "") if revealed else mask_date(birth_date),
        "sex": sex or "",
        "phone": (phone or "") if revealed else mask_phone(phone),
        "identifier": _identifiers(identifiers, revealed),
        "address": (address or "") if revealed else mask_words((address or "").split()),
    }

    def weight(key: str) -> float | None:
        found = weights.get(key)
        return float(found) if isinstance(found, int | float) else None

    return {key: Cell(values[key], weight(key)) for key in FIELDS}


def case_view(case: ReviewCase, revealed: bool) -> CaseView:
    sent = case.sent
    columns = []
    for candidate in case.candidates:
        p = candidate.patient
        task = candidate.task
        cells = _cells(
            family=p.family if p else None, given=p.given if p else (),
            birth_date=p.birth_date.isoformat() if p and p.birth_date else None,
            sex=p.gender if p else None, phone=p.phone if p else None,
            identifiers=p.identifiers if p else (), address=None, revealed=revealed,
            weights=task.field_scores)
        columns.append(Column(task.id, task.candidate_patient_id, task.grade, task.score, cells,
                              p is None))
    return CaseView(
        lab_result_id=case.lab_result_id, sending_facility=case.sending_facility,
        control_id=case.control_id, received_at=case.received_at.strftime("%Y-%m-%d %H:%M"),
        sent=_cells(family=sent.family, given=sent.given,
                    birth_date=sent.birth_date.isoformat() if sent.birth_date else None,
                    sex=sent.gender, phone=sent.phone, identifiers=sent.identifiers,
                    address=sent.address, revealed=revealed, weights={}),
        columns=columns, revealed=revealed)


async def _queue_context(console: ConsoleRequest, *, reveal: str | None, notice: str,
                         error: str, error_key: str) -> dict[str, Any]:
    review = console.services.lab_review
    after = console.request.query_params.get("after") or None
    page = await review.cases(console.caller, after=after, limit=PAGE_SIZE)
    cases = [case_view(c, revealed=False) for c in page.cases]
    if reveal is not None:
        revealing = replace(console.caller, purpose="reveal")
        shown = await review.cases(revealing, lab_result_id=reveal)
        unmasked = {c.lab_result_id: case_view(c, revealed=True) for c in shown.cases}
        cases = [unmasked.get(c.lab_result_id, c) for c in cases]
        cases += [c for key, c in unmasked.items() if key not in {v.lab_result_id for v in cases}]
    links: list[MpiLink] = await review.links(console.caller, lab_result_id=None,
                                              patient_id=None, after=None, limit=RECENT_LINKS)
    return {"cases": cases, "next_cursor": page.next_cursor, "fields": FIELDS,
            "links": links, "notice": notice, "error": error, "error_key": error_key}


async def _render(console: ConsoleRequest, *, reveal: str | None = None, notice: str = "",
                  error: str = "", error_key: str = "", status_code: int = 200) -> Response:
    context = await _queue_context(console, reveal=reveal, notice=notice, error=error,
                                   error_key=error_key)
    if console.is_htmx:
        # htmx swaps only 2xx answers: a refusal is shown in the queue's alert region.
        return console.render("partials/review_queue.html", context)
    return console.render("review.html", context, status_code=status_code)


NOTICES = ("linked", "rejected", "undone")


async def review_page(console: ConsoleRequest) -> Response:
    done = console.request.query_params.get("done", "")
    return await _render(console, notice=done if done in NOTICES else "")


async def _act(console: ConsoleRequest, notice: str, action: Awaitable[object]) -> Response:
    try:
        await action
    except (Conflict, NotFound, InvalidInput) as exc:
        status = 409 if isinstance(exc, Conflict) else 404 if isinstance(exc, NotFound) else 400
        return await _render(console, error=error_text(console.request, exc),
                             status_code=status)
    if console.is_htmx:
        return await _render(console, notice=notice)
    # A plain form post: back to the queue (post/redirect/get).
    return RedirectResponse(f"/console/review?done={notice}", status_code=303)


async def link_task(console: ConsoleRequest) -> Response:
    task_id = console.request.path_params["task_id"]
    return await _act(console, "linked",
                      console.services.lab_review.resolve(console.caller, task_id, "link"))


async def reject_task(console: ConsoleRequest) -> Response:
    task_id = console.request.path_params["task_id"]
    return await _act(console, "rejected",
                      console.services.lab_review.resolve(console.caller, task_id, "reject"))


async def undo_link(console: ConsoleRequest) -> Response:
    link_id = console.request.path_params["link_id"]
    reason = console.form.get("reason").strip()
    if not reason or len(reason) > 500:
        return await _render(console, error_key="review.undo_reason_needed", status_code=400)
    return await _act(console, "undone",
                      console.services.lab_review.undo(console.caller, link_id, reason))


async def reveal_case(console: ConsoleRequest) -> Response:
    return await _render(console, reveal=console.request.path_params["lab_result_id"])


PAGES = [
    Page("/review", review_page, "review", roles=ROLES, nav_key="nav.review", order=40),
    Page("/review/tasks/{task_id}/link", link_task, "review-link", roles=ROLES,
         methods=("POST",)),
    Page("/review/tasks/{task_id}/reject", reject_task, "review-reject", roles=ROLES,
         methods=("POST",)),
    Page("/review/links/{link_id}/undo", undo_link, "review-undo", roles=ROLES,
         methods=("POST",)),
    Page("/review/cases/{lab_result_id}/reveal", reveal_case, "review-reveal", roles=ROLES,
         methods=("POST",)),
]
