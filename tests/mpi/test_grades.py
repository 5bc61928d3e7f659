"""Deciding a match: trusted identifiers, contradictions, thresholds, explanations."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.mpi.memory import InMemoryMatchIndex, InMemoryPatientMatcher
from resolvers.mpi.matching import MatchCandidate, MatchGrade
from resolvers.mpi.model import Identifier
from resolvers.mpi.scoring.defaults import default_parameters
from resolvers.mpi.scoring.engine import MatchScorer, Thresholds
from resolvers.mpi.scoring.record import build_record

NID = "urn:ke:nid"
STORED = build_record(given=["Grace"], family="Odhiambo", birth_date=date(1985, 4, 12),
                      gender="female", phone="+254712345678", address="Kisumu Milimani",
                      identifiers=(Identifier(NID, "12345678"),))
SCORER = MatchScorer(default_parameters())


def _candidate(**overrides: object) -> MatchCandidate:
    base: dict[str, object] = dict(
        identifiers=(Identifier(NID, "12345678"),), family="Odhiambo", given=("Grace",),
        birth_date=date(1985, 4, 12), gender="female", phone="0712345678",
        address="Milimani, Kisumu", trusted_identifier_systems=frozenset({NID}))
    base.update(overrides)
    return MatchCandidate(**base)  # type: ignore[arg-type]


def _matcher() -> InMemoryPatientMatcher:
    index = InMemoryMatchIndex()
    index.put("p-grace", STORED)
    index.put("p-other", build_record(given=["Juma"], family="Hamisi", birth_date=date(1950, 1, 1),
                                      gender="male"))
    return InMemoryPatientMatcher(index, SCORER)


async def test_trusted_identifier_is_certain() -> None:
    matches = await _matcher().match(_candidate(family="Otieno", given=("Achieng",)))
    assert matches[0].patient_id == "p-grace"
    assert matches[0].grade is MatchGrade.CERTAIN and matches[0].score == 1.0
    assert "trusted identifier urn:ke:nid" in matches[0].reason


async def test_identifier_with_contradicting_sex_and_birth_year_is_only_probable() -> None:
    matches = await _matcher().match(_candidate(gender="male", birth_date=date(1962, 4, 12)))
    assert matches[0].grade is MatchGrade.PROBABLE
    assert "sex" in matches[0].reason and "birth year" in matches[0].reason
    assert matches[0].score < Thresholds().certain


async def test_untrusted_identifier_system_is_only_evidence() -> None:
    matches = await _matcher().match(_candidate(trusted_identifier_systems=frozenset()))
    assert matches[0].grade is MatchGrade.CERTAIN  # the demographics agree anyway
    assert "trusted identifier" not in matches[0].reason
    assert matches[0].field_scores["identifier"] > 0


async def test_demographics_alone_with_variants_and_typos() -> None:
    matches = await _matcher().match(MatchCandidate(
        family="Odhiambo", given=("Grace",), birth_date=date(1985, 12, 4), gender="female",
        phone="+254-712-345-678"))
    assert matches[0].patient_id == "p-grace"
    assert matches[0].grade in (MatchGrade.CERTAIN, MatchGrade.PROBABLE)
    assert set(matches[0].field_scores) == {"given", "family", "birth_date", "sex", "phone"}
    assert "birth_date near" in matches[0].reason


async def test_a_different_given_name_never_auto_links() -> None:
    # A twin: same family, birth date, sex, phone and address; another given name.
    matches = await _matcher().match(MatchCandidate(
        family="Odhiambo", given=("Atieno",), birth_date=date(1985, 4, 12), gender="female",
        phone="0712345678", address="Kisumu Milimani"))
    assert matches[0].grade is not MatchGrade.CERTAIN


async def test_nothing_close_gives_an_empty_answer() -> None:
    assert await _matcher().match(MatchCandidate(family="Mensah", given=("Kwame",),
                                                 birth_date=date(2001, 1, 1))) == []
    assert await _matcher().match(MatchCandidate()) == []


def test_thresholds() -> None:
    t = Thresholds(certain=0.99, probable=0.9, possible=0.5)
    assert [t.grade(p) for p in (0.995, 0.95, 0.6, 0.1)] == [
        MatchGrade.CERTAIN, MatchGrade.PROBABLE, MatchGrade.POSSIBLE, MatchGrade.NONE]
    with pytest.raises(ValueError, match="thresholds"):
        Thresholds(certain=0.5, probable=0.9)


def test_rank_orders_by_grade_then_score_and_limits() -> None:
    weak = build_record(given=["Grace"], family="Odhiambo", birth_date=date(1990, 1, 1))
    ranked = SCORER.rank(STORED, [("weak", weak), ("same", STORED)], limit=1)
    assert [m.patient_id for m in ranked] == ["same"]
    everything = SCORER.rank(STORED, [("weak", weak), ("same", STORED)], include_none=True)
    assert len(everything) == 2 and everything[0].score >= everything[1].score
