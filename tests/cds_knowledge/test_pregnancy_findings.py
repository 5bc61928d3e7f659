"""Pregnancy findings from check(pregnant=True): what is flagged, what is deliberately not."""

from __future__ import annotations

import pytest

from resolvers.cds.knowledge import InteractionChecker
from resolvers.cds.model import FindingKind, Severity
from tests.cds_knowledge.conftest import named, orders


@pytest.mark.parametrize(("text", "entry_id", "severity", "letter"), [
    ("warfarin", "pregnancy-warfarin", Severity.CONTRAINDICATED, "X"),
    ("methotrexate 2.5 mg", "pregnancy-methotrexate", Severity.CONTRAINDICATED, "X"),
    ("isotretinoin", "pregnancy-isotretinoin", Severity.CONTRAINDICATED, "X"),
    ("sodium valproate", "pregnancy-valproate", Severity.MAJOR, "D"),
    ("enalapril", "pregnancy-ace-inhibitor", Severity.MAJOR, "D"),
    ("primaquine", "pregnancy-primaquine", Severity.CONTRAINDICATED, None),
    ("doxycycline", "pregnancy-tetracyclines", Severity.MAJOR, "D"),
    ("misoprostol", "pregnancy-misoprostol", Severity.CONTRAINDICATED, "X"),
    ("atorvastatin", "pregnancy-statins", Severity.MODERATE, "X"),
    ("ibuprofen", "pregnancy-nsaid", Severity.MAJOR, None),
])
def test_flagged_in_pregnancy(checker: InteractionChecker, text: str, entry_id: str,
                              severity: Severity, letter: str | None) -> None:
    (finding,) = checker.check([named(text)], pregnant=True)
    assert (finding.kind, finding.entry_id, finding.severity) == (FindingKind.PREGNANCY, entry_id, severity)
    assert len(finding.medications) == 1 and finding.sources
    if letter:
        assert f"category {letter}" in finding.clinical_effect and "2015" in finding.clinical_effect
    else:
        assert "category" not in finding.clinical_effect


def test_efavirenz_is_not_contraindicated_in_pregnancy(checker: InteractionChecker) -> None:
    (finding,) = checker.check([named("efavirenz 600 mg")], pregnant=True)
    assert finding.severity is Severity.MINOR
    assert "not contraindicated" in finding.summary
    assert any("WHO" in s.label for s in finding.sources)


@pytest.mark.parametrize("text", ["dolutegravir", "Coartem", "co-trimoxazole", "paracetamol", "TLD"])
def test_recommended_in_pregnancy_is_not_flagged(checker: InteractionChecker, text: str) -> None:
    assert checker.check([named(text)], pregnant=True) == []


def test_no_pregnancy_findings_unless_pregnant(checker: InteractionChecker) -> None:
    assert checker.check([named("warfarin"), named("isotretinoin")]) == []


def test_pregnancy_findings_come_after_interactions_of_the_same_severity(
        checker: InteractionChecker) -> None:
    findings = checker.check(orders("warfarin", "ibuprofen"), pregnant=True)
    assert [(f.kind.value, f.entry_id) for f in findings] == [
        ("pregnancy", "pregnancy-warfarin"),  # contraindicated first
        ("interaction", "warfarin-nsaid"),
        ("pregnancy", "pregnancy-nsaid")]
