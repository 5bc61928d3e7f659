"""Deterministic matching on trusted identifiers: the first stage of every patient match."""

from __future__ import annotations

from collections.abc import Sequence

from resolvers.mpi.matching import Match, MatchCandidate, MatchGrade
from resolvers.mpi.model import Patient
from resolvers.ports import UnitOfWorkFactory


def _contradicts(patient: Patient, candidate: MatchCandidate) -> str:
    """Demographics that flatly disagree make an identifier match doubtful (typo, reuse)."""
    sex_differs = (patient.gender in ("male", "female") and candidate.gender in ("male", "female")
                   and patient.gender != candidate.gender)
    year_differs = (patient.birth_date is not None and candidate.birth_date is not None
                    and patient.birth_date.year != candidate.birth_date.year)
    if sex_differs and year_differs:
        return "identifier matches but sex and birth year both differ"
    return ""


class IdentifierMatcher:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    async def match(self, candidate: MatchCandidate, *, limit: int = 5) -> Sequence[Match]:
        found: dict[str, Match] = {}
        async with self._uow_factory() as uow:
            for identifier in candidate.identifiers:
                if identifier.system not in candidate.trusted_identifier_systems:
                    continue
                patient = await uow.patients.find_by_identifier(identifier)
                if patient is None or patient.id in found:
                    continue
                doubt = _contradicts(patient, candidate)
                found[patient.id] = Match(
                    patient_id=patient.id,
                    grade=MatchGrade.PROBABLE if doubt else MatchGrade.CERTAIN,
                    score=0.9 if doubt else 1.0, field_scores={"identifier": 1.0},
                    reason=doubt or f"same {identifier.system} identifier")
        ordered = sorted(found.values(), key=lambda m: -m.score)
        return ordered[:limit]
