"""Recognition by code (RxNorm, ATC, SNOMED CT), by name (doses, synonyms, brands, accents)
and of combination products; what matched is reported."""

from __future__ import annotations

import pytest

from resolvers.cds.knowledge import InteractionChecker
from resolvers.cds.knowledge.names import normalise_name
from resolvers.cds.model import Coding, MedicationFacts
from tests.cds_knowledge.conftest import ATC, RXNORM, SNOMED, coded, named


def ingredients(checker: InteractionChecker, facts: MedicationFacts) -> list[str]:
    return [r.ingredient for r in checker.recognise(facts)]


@pytest.mark.parametrize(("system", "code", "expected"), [
    (RXNORM, "9384", ["rifampicin"]),
    (RXNORM, "1433868", ["dolutegravir"]),
    (RXNORM, "195085", ["efavirenz"]),
    (RXNORM, "10831", ["sulfamethoxazole", "trimethoprim"]),
    (RXNORM, "1433879", ["dolutegravir"]),  # SBD: dolutegravir 50 MG Oral Tablet [Tivicay]
    (RXNORM, "317150", ["ritonavir"]),  # SCD: ritonavir 100 MG Oral Capsule
    (ATC, "J04AB02", ["rifampicin"]),
    (ATC, "P01BF01", ["artemether", "lumefantrine"]),
    (ATC, "J05AR10", ["lopinavir", "ritonavir"]),
    (ATC, "J05AX12", ["dolutegravir"]),  # the pre-2019 ATC code of dolutegravir
    (SNOMED, "372756006", ["warfarin"]),
    (SNOMED, "387001004", ["efavirenz"]),
    (SNOMED, "776569000", ["lopinavir", "ritonavir"]),
    (SNOMED, "423888002", ["darunavir"]),
    ("http://www.whocc.no/atc/", "B01AA03", ["warfarin"]),  # trailing slash tolerated
    ("", "M01AE01", ["ibuprofen"]),  # no system, but ATC's shape
    (ATC, "j04ab02", ["rifampicin"]),  # ATC in lower case
    ("urn:oid:2.16.840.1.113883.6.88", "9384", ["rifampicin"]),  # HL7 OIDs
    ("urn:oid:2.16.840.1.113883.6.73", "B01AA03", ["warfarin"]),
    ("urn:oid:2.16.840.1.113883.6.96", "372756006", ["warfarin"]),
])
def test_by_code(checker: InteractionChecker, system: str, code: str, expected: list[str]) -> None:
    recognised = checker.recognise(coded(system, code))
    assert [r.ingredient for r in recognised] == expected
    assert all(r.matched_by == Coding(system, code) for r in recognised)


def test_a_bare_number_without_system_is_not_guessed(checker: InteractionChecker) -> None:
    assert checker.recognise(coded("", "9384")) == ()


def test_the_first_coding_that_matches_wins_and_unknown_codings_are_skipped(
        checker: InteractionChecker) -> None:
    facts = MedicationFacts(codings=(Coding("http://example.org/local", "RIF"),
                                     Coding(ATC, "J04AB02"), Coding(RXNORM, "1433868")))
    (recognised,) = checker.recognise(facts)
    assert recognised.ingredient == "rifampicin"
    assert recognised.matched_by == Coding(ATC, "J04AB02")


@pytest.mark.parametrize(("text", "expected", "key"), [
    ("rifampicin 150 mg tablet", ["rifampicin"], "rifampicin"),
    ("Efavirenz 600mg tabs", ["efavirenz"], "efavirenz"),
    ("RIFAMPIN", ["rifampicin"], "rifampin"),
    ("Acetaminophen 500 mg", ["paracetamol"], "acetaminophen"),
    ("Éfavirenz", ["efavirenz"], "efavirenz"),
    ("Doxycycline hyclate 100 mg capsules", ["doxycycline"], "doxycycline"),
    ("warfarin sodium 5 mg", ["warfarin"], "warfarin sodium"),
    ("Coartem 20/120 mg dispersible", ["artemether", "lumefantrine"], "coartem"),
    ("Riamet", ["artemether", "lumefantrine"], "riamet"),
    ("AL", ["artemether", "lumefantrine"], "al"),
    ("artemether + lumefantrine", ["artemether", "lumefantrine"], "artemether / lumefantrine"),
    ("Aluvia 200mg/50mg", ["lopinavir", "ritonavir"], "aluvia"),
    ("LPV/r", ["lopinavir", "ritonavir"], "lpv / r"),
    ("Kaletra", ["lopinavir", "ritonavir"], "kaletra"),
    ("Septrin forte", ["sulfamethoxazole", "trimethoprim"], "septrin"),
    ("Co-trimoxazole 960 mg", ["sulfamethoxazole", "trimethoprim"], "cotrimoxazole"),
    ("cotrimoxazole", ["sulfamethoxazole", "trimethoprim"], "cotrimoxazole"),
    ("TMP-SMX", ["sulfamethoxazole", "trimethoprim"], "tmp / smx"),
    ("sulfamethoxazole and trimethoprim", ["sulfamethoxazole", "trimethoprim"],
     "sulfamethoxazole / trimethoprim"),
    ("TLD", ["tenofovir-disoproxil", "lamivudine", "dolutegravir"], "tld"),
    ("TDF/3TC/DTG 300/300/50 mg", ["tenofovir-disoproxil", "lamivudine", "dolutegravir"],
     "tdf / 3tc / dtg"),
])
def test_by_name(checker: InteractionChecker, text: str, expected: list[str], key: str) -> None:
    recognised = checker.recognise(named(text))
    assert [r.ingredient for r in recognised] == expected
    assert {r.matched_by for r in recognised} == {Coding("name", key)}


def test_a_name_of_components_is_read_component_by_component(checker: InteractionChecker) -> None:
    recognised = checker.recognise(named("Rifampicin/Isoniazid/Pyrazinamide/Ethambutol 150/75/400/275"))
    assert [r.ingredient for r in recognised] == ["rifampicin", "isoniazid", "pyrazinamide", "ethambutol"]
    recognised = checker.recognise(named("dolutegravir + abacavir"))
    assert [(r.ingredient, r.matched_by.code) for r in recognised] == [
        ("dolutegravir", "dolutegravir"), ("abacavir", "abacavir")]


def test_a_brand_with_its_ingredients_in_brackets_is_counted_once(checker: InteractionChecker) -> None:
    recognised = checker.recognise(named("Coartem (artemether 20 mg / lumefantrine 120 mg)"))
    assert [r.ingredient for r in recognised] == ["artemether", "lumefantrine"]


def test_a_drug_word_inside_a_longer_product_name(checker: InteractionChecker) -> None:
    assert ingredients(checker, named("Efavirenz Mylan 600 mg")) == ["efavirenz"]


def test_the_display_of_an_unknown_code_is_read_as_a_name(checker: InteractionChecker) -> None:
    facts = MedicationFacts(codings=(Coding(RXNORM, "99999999", "Rifampin 300 MG Oral Capsule"),))
    (recognised,) = checker.recognise(facts)
    assert (recognised.ingredient, recognised.matched_by) == ("rifampicin", Coding("name", "rifampin"))


@pytest.mark.parametrize("facts", [
    named("Vitamin B complex"), named("Amoxicillin 500 mg"), named("   "), named("500 mg tablet"),
    named("DHA 200 mg"),  # docosahexaenoic acid, not dihydroartemisinin
    coded(RXNORM, "723"), coded("http://example.org/formulary", "J04AB02"), MedicationFacts(),
])
def test_unknown_medications_are_not_recognised(checker: InteractionChecker,
                                                facts: MedicationFacts) -> None:
    assert checker.recognise(facts) == ()


def test_unknown_medications_are_ignored_by_check(checker: InteractionChecker) -> None:
    assert checker.check([named("Amoxicillin"), named("Vitamin C"), named("warfarin")]) == []


@pytest.mark.parametrize(("text", "key"), [
    ("Rifampicin 150 mg tablet", "rifampicin"),
    ("Efavirenz 600mg tabs", "efavirenz"),
    ("co-trimoxazole", "cotrimoxazole"),
    ("Septrin (co-trimoxazole) 480 mg", "septrin / cotrimoxazole"),
    ("Artemether-Lumefantrine 20mg/120mg film-coated tablets", "artemether / lumefantrine"),
    ("Lamivudine 10 mg/ml oral solution", "lamivudine"),
    ("3TC", "3tc"),
    ("ferrous sulfate and folic acid", "ferrous sulfate / folic acid"),
])
def test_normalisation(text: str, key: str) -> None:
    assert normalise_name(text) == key
