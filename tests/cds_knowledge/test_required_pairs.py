"""Every pair the issue names fires, once, with its severity, its sources and why."""

from __future__ import annotations

import pytest

from resolvers.cds.knowledge import InteractionChecker
from resolvers.cds.model import Coding, Finding, FindingKind, Severity
from tests.cds_knowledge.conftest import ATC, RXNORM, coded, named, orders

C, MAJ, MOD, MIN = Severity.CONTRAINDICATED, Severity.MAJOR, Severity.MODERATE, Severity.MINOR

REQUIRED = [
    # (first, second, entry id, severity, a source label must contain)
    ("rifampicin", "dolutegravir", "rifampicin-dolutegravir", MAJ, "Tivicay"),
    ("rifampicin", "efavirenz", "rifampicin-efavirenz", MOD, "WHO Consolidated guidelines on HIV"),
    ("rifampicin", "nevirapine", "rifampicin-nevirapine", MAJ, "Viramune"),
    ("rifampicin", "lopinavir/ritonavir", "rifampicin-lopinavir-ritonavir", MAJ, "Kaletra"),
    ("rifampicin", "bedaquiline", "rifamycin-bedaquiline", MAJ, "Sirturo"),
    ("artemether-lumefantrine", "efavirenz", "artemether-lumefantrine-efavirenz", MOD, "Coartem"),
    ("Coartem", "rifampicin", "artemether-lumefantrine-strong-inducers", C, "Coartem"),
    ("rifampin", "atazanavir", "rifampicin-atazanavir-darunavir", C, "Reyataz"),
    ("rifampicin", "darunavir", "rifampicin-atazanavir-darunavir", C, "Prezista"),
    ("rifampicin", "tenofovir alafenamide", "rifampicin-tenofovir-alafenamide", MAJ, "Vemlidy"),
    ("rifapentine", "dolutegravir", "rifapentine-dolutegravir", MIN, "tuberculosis, Module 1"),
    ("isoniazid", "phenytoin", "isoniazid-phenytoin", MOD, "isoniazid"),
    ("nevirapine", "Coartem", "artemether-lumefantrine-nevirapine", MOD, "Coartem"),
    ("efavirenz", "bedaquiline", "efavirenz-bedaquiline", MAJ, "Sirturo"),
    ("co-trimoxazole", "methotrexate", "methotrexate-trimethoprim", MAJ, "methotrexate"),
    ("trimethoprim", "methotrexate", "methotrexate-trimethoprim", MAJ, "methotrexate"),
    ("co-trimoxazole", "sulfadoxine-pyrimethamine", "cotrimoxazole-sulfadoxine-pyrimethamine", MAJ,
     "Guidelines for malaria"),
    ("fluconazole", "nevirapine", "fluconazole-nevirapine", MOD, "Viramune"),
    ("warfarin", "ibuprofen", "warfarin-nsaid", MAJ, "Coumadin"),
    ("naproxen", "warfarin", "warfarin-nsaid", MAJ, "Coumadin"),
    ("warfarin", "fluconazole", "warfarin-cyp2c9-inhibitors", MAJ, "Coumadin"),
    ("warfarin", "Bactrim", "warfarin-cyp2c9-inhibitors", MAJ, "Coumadin"),
    ("amiodarone", "clarithromycin", "qt-prolonging-pair", MAJ, "CredibleMeds"),
    ("haloperidol", "ondansetron", "qt-prolonging-pair", MAJ, "CredibleMeds"),
    ("simvastatin", "clarithromycin", "simvastatin-strong-cyp3a4-inhibitors", C, "Zocor"),
    ("simvastatin", "Kaletra", "simvastatin-strong-cyp3a4-inhibitors", C, "Phansalkar"),
    ("atazanavir", "omeprazole", "atazanavir-ppi", MAJ, "Phansalkar"),
    ("tizanidine", "ciprofloxacin", "tizanidine-ciprofloxacin", C, "Cipro"),
    ("sildenafil", "isosorbide mononitrate", "sildenafil-nitrates", C, "Viagra"),
]


def only(findings: list[Finding], entry_id: str) -> Finding:
    matching = [f for f in findings if f.entry_id == entry_id]
    assert len(matching) == 1, [f.entry_id for f in findings]
    return matching[0]


@pytest.mark.parametrize(("first", "second", "entry_id", "severity", "source"), REQUIRED)
def test_required_pair(checker: InteractionChecker, first: str, second: str, entry_id: str,
                       severity: Severity, source: str) -> None:
    meds = orders(first, second)
    finding = only(checker.check(meds), entry_id)
    assert finding.kind is FindingKind.INTERACTION
    assert finding.severity is severity
    assert any(source in s.label for s in finding.sources), finding.sources
    assert all(s.citation for s in finding.sources)
    assert finding.mechanism and finding.clinical_effect and finding.management
    assert len(finding.summary) <= 140
    # why it fired: one recognised medication from each order, with what matched
    assert [m.facts for m in finding.medications] == meds
    assert all(m.matched_by.system == "name" for m in finding.medications)


@pytest.mark.parametrize(("first", "second", "entry_id", "severity", "source"), REQUIRED)
def test_required_pair_is_symmetric(checker: InteractionChecker, first: str, second: str,
                                    entry_id: str, severity: Severity, source: str) -> None:
    assert only(checker.check(orders(second, first)), entry_id).severity is severity


def test_a_finding_names_the_codes_that_matched(checker: InteractionChecker) -> None:
    rifampicin = coded(RXNORM, "9384", "MedicationRequest/a")
    dolutegravir = coded(ATC, "J05AJ03", "MedicationRequest/b")
    finding = only(checker.check([rifampicin, dolutegravir]), "rifampicin-dolutegravir")
    assert [(m.ingredient, m.matched_by) for m in finding.medications] == [
        ("rifampicin", Coding(RXNORM, "9384")), ("dolutegravir", Coding(ATC, "J05AJ03"))]
    assert "rifampicin" in finding.summary.casefold()


def test_an_entry_fires_once_per_pair_even_when_two_ingredients_match(
        checker: InteractionChecker) -> None:
    findings = checker.check(orders("efavirenz", "artemether/lumefantrine"))
    assert [f.entry_id for f in findings] == ["artemether-lumefantrine-efavirenz"]


def test_rifampicin_inside_a_fixed_dose_combination_interacts(checker: InteractionChecker) -> None:
    findings = checker.check(orders("RHZE 150/75/400/275", "TLD"))
    assert [f.entry_id for f in findings] == ["rifampicin-dolutegravir"]
    assert [m.ingredient for m in findings[0].medications] == ["rifampicin", "dolutegravir"]


def test_a_combination_never_interacts_with_itself(checker: InteractionChecker) -> None:
    for product in ("Coartem", "Kaletra", "TLD", "co-trimoxazole", "RHZE", "TLE", "ASAQ",
                    "levonorgestrel/ethinylestradiol"):
        assert checker.check([named(product, "MedicationRequest/1")]) == [], product


def test_a_pair_that_does_not_interact_gives_nothing(checker: InteractionChecker) -> None:
    assert checker.check(orders("dolutegravir", "lamivudine", "paracetamol")) == []


def test_a_class_entry_names_the_medications_it_fired_for(checker: InteractionChecker) -> None:
    finding = only(checker.check(orders("Coartem", "moxifloxacin")), "lumefantrine-qt")
    assert finding.severity is MAJ
    assert [m.ingredient for m in finding.medications] == ["lumefantrine", "moxifloxacin"]
    assert finding.summary.casefold().startswith("lumefantrine + moxifloxacin: ")


@pytest.mark.parametrize(("first", "second", "entry_id", "severity"), [
    ("efavirenz", "rifabutin", "efavirenz-rifabutin", MOD),
    ("rifabutin", "Kaletra", "rifabutin-boosted-pi", MOD),
    ("bedaquiline", "clofazimine", "bedaquiline-clofazimine", MOD),
    ("bedaquiline", "moxifloxacin", "bedaquiline-qt", MOD),
    ("dolutegravir", "metformin", "dolutegravir-metformin", MOD),
    ("TLD", "ferrous sulphate", "dolutegravir-polyvalent-cations", MOD),
    ("ASAQ", "efavirenz", "artesunate-amodiaquine-efavirenz", MAJ),
    ("ASAQ", "zidovudine", "amodiaquine-zidovudine", MAJ),
    ("rifampicin", "levonorgestrel/ethinylestradiol", "rifampicin-hormonal-contraceptives", MAJ),
    ("carbamazepine", "levonorgestrel", "enzyme-inducing-anticonvulsants-contraceptives", MAJ),
    ("methotrexate", "diclofenac", "methotrexate-nsaid", MAJ),
    ("digoxin", "amiodarone", "digoxin-amiodarone", MAJ),
    ("lisinopril", "spironolactone", "ace-inhibitor-potassium", MOD),
    ("allopurinol", "azathioprine", "allopurinol-thiopurines", MAJ),
    ("tramadol", "fluoxetine", "tramadol-ssri", MOD),
    ("Cipro", "calcium carbonate", "ciprofloxacin-polyvalent-cations", MOD),
    ("DHA-PPQ", "azithromycin", "piperaquine-qt", C),
    ("Eurartesim", "Coartem", "duplicate-artemisinin", MOD),
])
def test_further_pairs(checker: InteractionChecker, first: str, second: str, entry_id: str,
                       severity: Severity) -> None:
    finding = only(checker.check(orders(first, second)), entry_id)
    assert finding.severity is severity and finding.sources
