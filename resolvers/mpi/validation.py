"""Rules a patient record must satisfy before it is stored."""

from __future__ import annotations

import re
from datetime import date

from resolvers.errors import InvalidInput
from resolvers.mpi.model import GENDERS, PatientDraft

_PHONE = re.compile(r"^\+?[0-9]{7,15}$")
MAX_TEXT = 200
MAX_IDENTIFIERS = 20


def validate_patient_draft(draft: PatientDraft, *, today: date) -> PatientDraft:
    problems: list[dict[str, str]] = []

    def problem(field: str, message: str) -> None:
        problems.append({"field": field, "message": message})

    if not draft.identifiers and not draft.family and not draft.given:
        problem("identifiers", "a patient needs at least one identifier or a name")
    if len(draft.identifiers) > MAX_IDENTIFIERS:
        problem("identifiers", f"at most {MAX_IDENTIFIERS} identifiers")
    seen: set[tuple[str, str]] = set()
    for i, ident in enumerate(draft.identifiers):
        if not ident.system.strip() or not ident.value.strip():
            problem(f"identifiers[{i}]", "system and value must both be non-empty")
        if len(ident.system) > MAX_TEXT or len(ident.value) > MAX_TEXT:
            problem(f"identifiers[{i}]", f"system and value are at most {MAX_TEXT} characters")
        if (ident.system, ident.value) in seen:
            problem(f"identifiers[{i}]", "the same identifier is listed twice")
        seen.add((ident.system, ident.value))
    for name, value in (("family", draft.family), *((f"given[{i}]", g) for i, g in enumerate(draft.given))):
        if value is not None and (not value.strip() or len(value) > MAX_TEXT):
            problem(name, f"must be 1 to {MAX_TEXT} non-blank characters")
    if draft.birth_date is not None and draft.birth_date > today:
        problem("birth_date", "must not be in the future")
    if draft.gender is not None and draft.gender not in GENDERS:
        problem("gender", f"must be one of {', '.join(GENDERS)}")
    phone = draft.phone.replace(" ", "").replace("-", "") if draft.phone else None
    if phone is not None and not _PHONE.match(phone):
        problem("phone", "must be 7 to 15 digits, optionally starting with +")
    if problems:
        raise InvalidInput("the patient record is not valid", details=problems)
    return PatientDraft(
        identifiers=tuple(draft.identifiers),
        family=draft.family.strip() if draft.family else None,
        given=tuple(g.strip() for g in draft.given),
        birth_date=draft.birth_date,
        gender=draft.gender,
        phone=phone,
        organization_id=draft.organization_id,
    )
