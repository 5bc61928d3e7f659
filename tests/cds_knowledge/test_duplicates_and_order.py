"""Duplicate therapy (by ATC class and by the same ingredient twice), and the order and
determinism of findings."""

from __future__ import annotations

import random

from resolvers.cds.knowledge import InteractionChecker
from resolvers.cds.model import FindingKind, MedicationFacts, Severity
from tests.cds_knowledge.conftest import ATC, RXNORM, coded, named, orders

RANK = {Severity.CONTRAINDICATED: 0, Severity.MAJOR: 1, Severity.MODERATE: 2, Severity.MINOR: 3}


def kinds(checker: InteractionChecker, meds: list[MedicationFacts]) -> list[tuple[str, str]]:
    return [(f.kind.value, f.entry_id) for f in checker.check(meds)]


def test_two_nsaids(checker: InteractionChecker) -> None:
    findings = checker.check(orders("ibuprofen 400 mg", "diclofenac 50 mg"))
    assert [(f.kind, f.entry_id, f.severity) for f in findings] == [
        (FindingKind.DUPLICATE_THERAPY, "duplicate-nsaid", Severity.MODERATE)]
    assert [m.ingredient for m in findings[0].medications] == ["ibuprofen", "diclofenac"]


def test_two_nnrtis_and_two_ace_inhibitors(checker: InteractionChecker) -> None:
    assert kinds(checker, orders("efavirenz", "nevirapine")) == [
        ("duplicate-therapy", "duplicate-nnrti")]
    assert kinds(checker, orders("enalapril", "lisinopril")) == [
        ("duplicate-therapy", "duplicate-ace-inhibitor")]


def test_class_membership_comes_from_atc_codes(checker: InteractionChecker) -> None:
    # ATC M01AE02 (naproxen) and M01AB05 (diclofenac) are both under M01A
    meds = [coded(ATC, "M01AE02", "MedicationRequest/1"), coded(ATC, "M01AB05", "MedicationRequest/2")]
    assert kinds(checker, meds) == [("duplicate-therapy", "duplicate-nsaid")]


def test_the_same_drug_in_two_orders_is_a_duplicate(checker: InteractionChecker) -> None:
    meds = [coded(RXNORM, "5640", "MedicationRequest/1"), named("Brufen 200mg", "MedicationRequest/2")]
    findings = checker.check(meds)
    assert [(f.kind, f.entry_id) for f in findings] == [
        (FindingKind.DUPLICATE_THERAPY, "duplicate-same-ingredient")]
    assert [m.ingredient for m in findings[0].medications] == ["ibuprofen", "ibuprofen"]


def test_the_same_drug_in_two_texts_without_references_is_a_duplicate(
        checker: InteractionChecker) -> None:
    assert kinds(checker, [named("warfarin 5 mg"), named("Coumadin 3 mg")]) == [
        ("duplicate-therapy", "duplicate-same-ingredient")]


def test_the_same_order_sent_twice_is_not_a_duplicate(checker: InteractionChecker) -> None:
    assert checker.check([named("warfarin", "MedicationRequest/1"),
                          named("warfarin", "MedicationRequest/1")]) == []
    assert checker.check([named("warfarin"), named("warfarin")]) == []
    # one reference, two descriptions of it: still one order
    assert checker.check([coded(RXNORM, "11289", "MedicationRequest/1"),
                          named("warfarin", "MedicationRequest/1")]) == []


def test_a_drug_ordered_alone_and_inside_a_combination_is_a_duplicate(
        checker: InteractionChecker) -> None:
    assert kinds(checker, orders("TLD", "dolutegravir 50 mg")) == [
        ("duplicate-therapy", "duplicate-same-ingredient")]


def test_a_combination_does_not_duplicate_itself(checker: InteractionChecker) -> None:
    # lopinavir and ritonavir are both protease inhibitors, artemether an artemisinin:
    # one product is never a duplicate of itself
    assert checker.check([named("Kaletra"), named("paracetamol")]) == []


def test_two_artemisinin_combinations(checker: InteractionChecker) -> None:
    assert kinds(checker, orders("Coartem", "ASAQ")) == [("duplicate-therapy", "duplicate-artemisinin")]


def test_findings_are_sorted_most_severe_first(checker: InteractionChecker) -> None:
    meds = orders("rifampicin", "dolutegravir", "Coartem", "efavirenz", "ibuprofen", "naproxen",
                  "warfarin", "atazanavir", "omeprazole", "amiodarone", "clarithromycin")
    findings = checker.check(meds, pregnant=True)
    assert len(findings) > 10
    ranks = [RANK[f.severity] for f in findings]
    assert ranks == sorted(ranks)
    assert findings[0].severity is Severity.CONTRAINDICATED
    # within one severity: interactions, then duplicates, then pregnancy
    order = {FindingKind.INTERACTION: 0, FindingKind.DUPLICATE_THERAPY: 1, FindingKind.PREGNANCY: 2}
    keys = [(RANK[f.severity], order[f.kind]) for f in findings]
    assert keys == sorted(keys)


def test_findings_are_deterministic(checker: InteractionChecker) -> None:
    meds = orders("rifampicin", "dolutegravir", "Coartem", "efavirenz", "ibuprofen", "naproxen",
                  "warfarin", "fluconazole", "amiodarone", "haloperidol", "ondansetron")
    first = checker.check(meds, pregnant=True)
    assert all(checker.check(meds, pregnant=True) == first for _ in range(5))
    fresh = InteractionChecker.from_data()
    assert fresh.check(meds, pregnant=True) == first
    shuffled = meds[:]
    random.Random(7).shuffle(shuffled)
    assert {(f.entry_id, frozenset(m.facts for m in f.medications))
            for f in checker.check(shuffled, pregnant=True)} == {
        (f.entry_id, frozenset(m.facts for m in f.medications)) for f in first}


def test_each_pair_is_reported_once(checker: InteractionChecker) -> None:
    findings = checker.check(orders("amiodarone", "clarithromycin", "haloperidol"))
    pairs = [(f.entry_id, tuple(m.facts.reference for m in f.medications)) for f in findings]
    assert len(pairs) == len(set(pairs))
    assert sorted(p for e, p in pairs if e == "qt-prolonging-pair") == [
        ("MedicationRequest/mr-1", "MedicationRequest/mr-2"),
        ("MedicationRequest/mr-1", "MedicationRequest/mr-3"),
        ("MedicationRequest/mr-2", "MedicationRequest/mr-3")]


def test_a_repeated_order_gives_its_findings_once(checker: InteractionChecker) -> None:
    warfarin = named("warfarin", "MedicationRequest/1")
    ibuprofen = named("ibuprofen", "MedicationRequest/2")
    again = named("Brufen 400 mg", "MedicationRequest/2")  # the same order, described again
    findings = checker.check([warfarin, ibuprofen, again, ibuprofen], pregnant=True)
    assert [(f.entry_id, [m.facts for m in f.medications]) for f in findings] == [
        ("pregnancy-warfarin", [warfarin]),
        ("warfarin-nsaid", [warfarin, ibuprofen]),
        ("pregnancy-nsaid", [ibuprofen])]
