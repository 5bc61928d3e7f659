"""The register profile: which default parameters the matcher takes, read off the register
itself (resolvers/mpi/scoring/profile.py), with no labels."""

from __future__ import annotations

from adapters.mpi.memory import InMemoryMatchIndex
from benchmarks.register_accuracy import match_record
from benchmarks.synthetic_register import generate
from resolvers.mpi.scoring.febrl_parameters import febrl_parameters
from resolvers.mpi.scoring.profile import (
    MIN_SAMPLE,
    RegisterKind,
    RegisterProfile,
    household_member,
    parameters_for,
    profile_is_stale,
)
from resolvers.mpi.scoring.record import build_record
from resolvers.mpi.scoring.register_parameters import register_parameters
from tests.mpi.febrl import build_index, load

SEED = 424242


def _person(given: str, born: str, *, family: str = "Otieno", phone: str = "712345678",
            address: str = "Plot 12 Kibera Nairobi") -> object:
    return build_record(given=[given], family=family, birth_date=born, phone=phone,
                        address=address)


def test_another_person_at_the_same_phone_is_a_household_member() -> None:
    mother = _person("Akinyi", "1980-04-02")
    son = _person("Ouma", "2009-11-20", address="")
    assert household_member(mother, son)  # type: ignore[arg-type]


def test_a_copy_with_a_slip_is_not_a_household_member() -> None:
    record = _person("Akinyi", "1980-04-02")
    typo = _person("Akinyi", "1980-04-20")               # day typo: same person
    swapped = _person("Otieno", "1975-01-01", family="Akinyi")  # names swapped
    twin = _person("Adhiambo", "1980-04-02")             # same birthday: twins are not counted
    stranger = _person("Ouma", "2009-11-20", phone="799999999", address="Kisumu Nyalenda")
    for other in (typo, swapped, twin, stranger):
        assert not household_member(record, other)  # type: ignore[arg-type]


def test_a_register_of_households_takes_the_household_parameters() -> None:
    register = generate(2000, SEED)
    index = InMemoryMatchIndex()
    for pid, person in register.patients.items():
        index.put(pid, match_record(person))
    profile = index.profile()
    assert profile.kind is RegisterKind.HOUSEHOLDS, profile
    assert profile.household_share > 0.6
    assert parameters_for(profile.kind) == register_parameters()


def test_febrl_one_person_per_address_takes_the_individual_parameters() -> None:
    for name in ("febrl2", "febrl4"):
        profile = build_index(load(name).records).profile()
        assert profile.kind is RegisterKind.INDIVIDUALS, (name, profile)
        assert profile.household_share < 0.05
    assert parameters_for(RegisterKind.INDIVIDUALS) == febrl_parameters()


def test_too_few_patients_say_nothing_and_keep_the_safe_default() -> None:
    small = RegisterProfile(sampled=MIN_SAMPLE - 1, household_share=0.0, register_size=150)
    assert small.kind is RegisterKind.UNKNOWN
    assert parameters_for(small.kind) == register_parameters()


def test_a_profile_goes_stale_when_the_register_grows_by_a_fifth() -> None:
    profile = RegisterProfile(sampled=900, household_share=0.01, register_size=1000)
    assert not profile_is_stale(profile, 1200)
    assert profile_is_stale(profile, 1201)
    assert profile_is_stale(profile, 799)
    assert RegisterProfile.from_dict(profile.to_dict()) == profile


def test_on_a_register_of_households_a_lookup_links_one_patient_at_most() -> None:
    from resolvers.mpi.matching import MatchGrade
    from resolvers.mpi.scoring.engine import MatchScorer

    register = generate(2000, SEED)
    index = InMemoryMatchIndex()
    for pid, person in register.patients.items():
        index.put(pid, match_record(person))
    linked = (MatchGrade.CERTAIN, MatchGrade.PROBABLE)
    single = MatchScorer(register_parameters(), single_link=True)
    several = MatchScorer(register_parameters(), single_link=False)
    widened = 0
    for person in register.queries.values():
        record = match_record(person)
        candidates = index.candidates(record)
        one = [m for m in single.rank(record, candidates) if m.grade in linked]
        many = [m for m in several.rank(record, candidates) if m.grade in linked]
        assert {m.patient_id for m in one} <= {m.patient_id for m in many}
        if len(one) > 1:  # only candidates nothing tells apart stay side by side
            assert len({m.score for m in one}) == 1, one
        if len(many) > 1 and len(one) == 1:
            widened += 1
            demoted = [m for m in single.rank(record, candidates)
                       if m.patient_id in {x.patient_id for x in many} - {one[0].patient_id}]
            assert all(m.grade is MatchGrade.POSSIBLE for m in demoted), demoted
            assert all("another patient is a better match" in m.reason for m in demoted)
    assert widened > 0  # the rule had lookups to act on
