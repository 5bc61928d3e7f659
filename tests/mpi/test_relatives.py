"""Relatives are never linked as certain: one rule per test (resolvers/mpi/scoring/relatives)."""

from __future__ import annotations

from datetime import date

from resolvers.mpi.matching import MatchGrade
from resolvers.mpi.scoring.defaults import default_parameters
from resolvers.mpi.scoring.engine import MatchScorer
from resolvers.mpi.scoring.record import MatchRecord, build_record
from resolvers.mpi.scoring.relatives import GivenFit, given_fit, household_weights

SCORER = MatchScorer(default_parameters())
HOME = {"family": "Odhiambo", "birth_date": date(2015, 3, 9), "phone": "+254712345678",
        "address": "Plot 12 Kibera Lane, Kisumu"}


def _person(given: list[str], gender: str = "female", **overrides: object) -> MatchRecord:
    fields: dict[str, object] = {**HOME, **overrides}
    return build_record(given=given, gender=gender, **fields)  # type: ignore[arg-type]


def _grade(query: MatchRecord, stored: MatchRecord) -> MatchGrade:
    return SCORER.score("p1", query, stored).grade


def test_the_same_person_retyped_is_certain() -> None:
    assert _grade(_person(["Achieng"]), _person(["Achieng"])) is MatchGrade.CERTAIN


def test_a_twin_with_another_given_name_is_never_certain_nor_probable() -> None:
    # Same family name, birth date, phone, address and sex: only the given name differs.
    assert given_fit(["wanjiku"], ["achieng"]) is GivenFit.CONFLICT
    assert _grade(_person(["Wanjiku"]), _person(["Achieng"])) is MatchGrade.POSSIBLE


def test_a_twin_with_another_name_and_no_shared_phone_is_not_certain() -> None:
    twin = _person(["Wanjiku"], phone="+254799000111")
    assert _grade(twin, _person(["Achieng"])) is not MatchGrade.CERTAIN


def test_a_twin_with_a_similar_but_different_name_is_not_certain() -> None:
    # Wanjiku and Wanjiru are two names (Jaro-Winkler 0.94, different phonetic keys).
    assert given_fit(["wanjiku"], ["wanjiru"]) is GivenFit.SIMILAR
    assert _grade(_person(["Wanjiku"]), _person(["Wanjiru"])) is not MatchGrade.CERTAIN


def test_a_twin_of_the_other_sex_is_not_certain() -> None:
    assert _grade(_person(["Achieng"], gender="male"), _person(["Achieng"])) \
        is not MatchGrade.CERTAIN


def test_a_sibling_born_in_another_year_is_not_certain() -> None:
    sibling = _person(["Achieng"], birth_date=date(2011, 8, 21))
    assert _grade(sibling, _person(["Achieng"])) is not MatchGrade.CERTAIN


def test_spelling_variants_and_middle_names_and_swaps_may_still_be_certain() -> None:
    registered = build_record(given=["Mohammed"], family="Hassan", birth_date=date(1980, 5, 2),
                              gender="male", phone="+254712345678")
    for given, family in ((["Muhammad"], "Hassan"), (["Mohammed", "Ali"], "Hassan"),
                          (["Mohamed"], "Hasan"), (["Hassan"], "Mohammed")):
        query = build_record(given=given, family=family, birth_date=date(1980, 5, 2),
                             gender="male", phone="+254712345678")
        assert _grade(query, registered) is MatchGrade.CERTAIN, (given, family)


def test_another_given_name_beside_a_shared_one_is_a_conflict() -> None:
    # "Grace Achieng" and "Mercy Achieng": sisters sharing a name, not one person.
    assert given_fit(["grace", "achieng"], ["mercy", "achieng"]) is GivenFit.CONFLICT
    assert given_fit(["achieng"], ["grace", "achieng"]) is GivenFit.SAME


def test_phone_and_address_count_as_one_household_signal() -> None:
    weights = {"given": 2.0, "phone": 6.0, "address": 9.0}
    assert household_weights(weights, GivenFit.SAME) == {"given": 2.0, "phone": 0.0,
                                                         "address": 9.0}


def test_phone_and_address_count_nothing_between_different_given_names() -> None:
    weights = {"given": -2.0, "phone": 6.0, "address": 9.0, "birth_date": -3.0}
    assert household_weights(weights, GivenFit.CONFLICT)["phone"] == 0.0
    assert household_weights(weights, GivenFit.CONFLICT)["address"] == 0.0


def test_a_household_member_is_not_lifted_by_phone_and_address() -> None:
    # Another person of the house: another given name, another birth date; only the
    # family name, phone and address agree.
    member = _person(["Otieno"], gender="male", birth_date=date(1980, 1, 20))
    grade = _grade(member, _person(["Achieng"]))
    assert grade not in (MatchGrade.CERTAIN, MatchGrade.PROBABLE)


def test_an_estimated_birth_date_agreeing_is_not_certain() -> None:
    # 01-01: an age written as a date; everyone of that age the clinic estimated shares it.
    estimated = date(2015, 1, 1)
    assert _grade(_person(["Achieng"], birth_date=estimated),
                  _person(["Achieng"], birth_date=estimated)) is MatchGrade.PROBABLE


def test_two_certain_namesakes_both_go_to_review() -> None:
    # Two registered patients each certain on demographics: at most one is this person.
    query = _person(["Araba"], phone="", address="")
    elsewhere = {"phone": "+254700000001", "address": "House 3 Tandale Road, Koforidua"}
    stored = [("p1", _person(["Araba"], **elsewhere)), ("p2", _person(["Araba", "Abena"]))]
    assert [SCORER.score(pid, query, record).grade for pid, record in stored] \
        == [MatchGrade.CERTAIN, MatchGrade.CERTAIN]
    assert {m.grade for m in SCORER.rank(query, stored)} == {MatchGrade.PROBABLE}


def test_beside_a_certain_match_one_with_another_birth_date_is_only_possible() -> None:
    # A household member sharing the names but born another year: a relative, not a duplicate.
    query = _person(["Chidinma"])
    sibling = _person(["Chidinma"], birth_date=date(2018, 3, 26))
    assert SCORER.score("p2", query, sibling).grade is MatchGrade.PROBABLE
    ranked = {m.patient_id: m.grade for m in SCORER.rank(query, [("p1", _person(["Chidinma"])),
                                                                 ("p2", sibling)])}
    assert ranked == {"p1": MatchGrade.CERTAIN, "p2": MatchGrade.POSSIBLE}


def _rank(query: MatchRecord, *stored: MatchRecord) -> dict[str, MatchGrade]:
    candidates = [(f"p{n}", record) for n, record in enumerate(stored)]
    return {m.patient_id: m.grade for m in SCORER.rank(query, candidates, limit=10)}


def test_a_registered_twin_keeps_the_other_twin_from_certain() -> None:
    # Twins Ladi and Lami registered side by side; the lab typed Ladi as "Lami".
    ladi, lami = _person(["Ladi"]), _person(["Lami", "Hauwa"])
    assert _rank(_person(["Lami"]), lami)["p0"] is MatchGrade.CERTAIN  # no twin registered
    grades = _rank(_person(["Lami"]), lami, ladi)
    assert grades["p0"] is MatchGrade.PROBABLE


def test_two_slips_among_names_and_birth_date_are_not_certain() -> None:
    registered = _person(["Asha", "Oluwakemi"], family="Adewumi")
    one_slip = _person(["Asha"], family="Adewwmi")
    two_slips = _person(["Aisha"], family="Adewwmi", birth_date=date(2015, 3, 8))
    assert _grade(one_slip, registered) is MatchGrade.CERTAIN
    assert _grade(two_slips, registered) is not MatchGrade.CERTAIN


def test_names_and_birthday_with_every_contact_differing_are_not_certain() -> None:
    # A namesake born the same day in another household, or the same woman moved: review.
    registered = _person(["Nomvula"], family="Zulu", address="359 Khayelitsha Road, Ladysmith")
    elsewhere = _person(["Nomvula"], family="Zulu", phone=None,
                        address="4 Kariakoo Plot, Empangeni")
    moved_same_phone = _person(["Nomvula"], family="Zulu", address="4 Kariakoo Plot, Empangeni")
    assert _grade(elsewhere, registered) is MatchGrade.PROBABLE
    assert _grade(moved_same_phone, registered) is MatchGrade.CERTAIN
