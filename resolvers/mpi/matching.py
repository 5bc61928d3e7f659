"""What a patient match is asked and answers (the port; adapters implement the matcher)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from resolvers.mpi.model import Identifier

if TYPE_CHECKING:  # the ports module reads the scoring records, which read this module
    from resolvers.mpi.ports import MatchingUnitOfWork


class MatchGrade(StrEnum):
    CERTAIN = "certain"  # auto-link
    PROBABLE = "probable"  # review task
    POSSIBLE = "possible"  # review task
    NONE = "certainly-not"


@dataclass(frozen=True)
class MatchCandidate:
    """The demographics of the record to match (from PID, a FHIR Patient, ...)."""

    identifiers: tuple[Identifier, ...] = ()
    family: str | None = None
    given: tuple[str, ...] = ()
    birth_date: date | None = None
    gender: str | None = None  # male female other unknown
    phone: str | None = None
    address: str | None = None  # free text: village, city, district
    trusted_identifier_systems: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Match:
    patient_id: str
    grade: MatchGrade
    score: float  # 0..1
    field_scores: dict[str, float] = field(default_factory=dict)  # why: weight per field
    reason: str = ""


class PatientMatcher(Protocol):
    async def match(self, candidate: MatchCandidate, *, limit: int = 5) -> Sequence[Match]:
        """Best first; empty when nothing comes close."""
        ...

    async def match_within(self, uow: MatchingUnitOfWork, candidate: MatchCandidate, *,
                           limit: int = 5) -> Sequence[Match]:
        """The same, inside the caller's unit of work (one transaction for match and write)."""
        ...
