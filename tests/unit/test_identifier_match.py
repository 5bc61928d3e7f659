from datetime import UTC, date, datetime

from adapters.memory.store import InMemoryUnitOfWork, MemoryState
from resolvers.clock import SystemClock
from resolvers.mpi.identifier_match import IdentifierMatcher
from resolvers.mpi.matching import MatchCandidate, MatchGrade
from resolvers.mpi.model import Identifier, Patient

NID = Identifier("urn:oid:1.3.6.1.4.1.9999.1", "NID9988")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def _matcher_with_patient() -> IdentifierMatcher:
    state = MemoryState()
    async with InMemoryUnitOfWork(state, SystemClock().now) as uow:
        await uow.patients.add(Patient("p-1", (NID,), "Odhiambo", ("Grace",), date(1985, 4, 12),
                                       "female", None, None, 1, NOW, NOW))
        await uow.commit()
    return IdentifierMatcher(lambda: InMemoryUnitOfWork(state, SystemClock().now))


async def test_trusted_identifier_is_a_certain_match() -> None:
    matcher = await _matcher_with_patient()
    (match,) = await matcher.match(MatchCandidate(identifiers=(NID,), gender="female",
                                                  trusted_identifier_systems=frozenset({NID.system})))
    assert (match.patient_id, match.grade, match.score) == ("p-1", MatchGrade.CERTAIN, 1.0)


async def test_untrusted_system_or_unknown_value_does_not_match() -> None:
    matcher = await _matcher_with_patient()
    assert await matcher.match(MatchCandidate(identifiers=(NID,))) == []
    other = Identifier(NID.system, "NID0000")
    assert await matcher.match(MatchCandidate(
        identifiers=(other,), trusted_identifier_systems=frozenset({NID.system}))) == []


async def test_contradicting_demographics_downgrade_to_review() -> None:
    matcher = await _matcher_with_patient()
    (match,) = await matcher.match(MatchCandidate(
        identifiers=(NID,), gender="male", birth_date=date(2001, 1, 1),
        trusted_identifier_systems=frozenset({NID.system})))
    assert match.grade == MatchGrade.PROBABLE and "differ" in match.reason
