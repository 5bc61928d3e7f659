"""A small interaction checker implementing the hooks' port (resolvers/cds/hooks/ports.py), so
the surface is tested on findings it knows, whatever the shipped knowledge base holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from resolvers.cds.model import (
    Coding,
    Finding,
    FindingKind,
    MedicationFacts,
    RecognisedMedication,
    Severity,
    Source,
)

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# ingredient -> RxNorm code
INGREDIENTS = {"rifampicin": "9384", "dolutegravir": "1433868", "simvastatin": "36567",
               "clarithromycin": "21212", "ibuprofen": "5640", "lisinopril": "29046",
               "paracetamol": "161", "metoclopramide": "6915", "valproate": "11118"}
PAIRS = {
    frozenset({"rifampicin", "dolutegravir"}): (Severity.MAJOR, "rif-dtg"),
    frozenset({"simvastatin", "clarithromycin"}): (Severity.CONTRAINDICATED, "simva-clari"),
    frozenset({"ibuprofen", "lisinopril"}): (Severity.MODERATE, "nsaid-acei"),
    frozenset({"paracetamol", "metoclopramide"}): (Severity.MINOR, "para-meto"),
}
SOURCE = Source("WHO Consolidated HIV guidelines 2021", "https://www.who.int/publications/i/"
                "item/9789240031593", "Table 4.3")


class FakeChecker:
    version = "fake-1"

    def __init__(self) -> None:
        self.calls: list[tuple[list[MedicationFacts], bool]] = []

    def recognise(self, facts: MedicationFacts) -> RecognisedMedication | None:
        for coding in facts.codings:
            for name, code in INGREDIENTS.items():
                if coding.code == code:
                    return RecognisedMedication(facts, name, coding)
        text = (facts.text or "").lower()
        for name in INGREDIENTS:
            if name in text:
                return RecognisedMedication(facts, name, Coding("name", name))
        return None

    def check(self, medications: Sequence[MedicationFacts], *,
              pregnant: bool = False) -> list[Finding]:
        self.calls.append((list(medications), pregnant))
        known = [r for m in medications if (r := self.recognise(m)) is not None]
        findings = []
        for i, first in enumerate(known):
            for second in known[i + 1:]:
                found = PAIRS.get(frozenset({first.ingredient, second.ingredient}))
                if found is not None:
                    severity, entry = found
                    findings.append(Finding(
                        FindingKind.INTERACTION, entry, severity, (first, second),
                        f"{first.ingredient.title()} with {second.ingredient}: "
                        f"{severity.value} interaction", "Enzyme induction (CYP3A4, UGT1A1).",
                        "Lower exposure of the second drug.", "Adjust the dose or avoid.",
                        (SOURCE,)))
        if pregnant:
            findings += [Finding(FindingKind.PREGNANCY, "valproate-pregnancy",
                                 Severity.CONTRAINDICATED, (r,), "Valproate in pregnancy: "
                                 "teratogenic", "Neural tube defects.", "Malformations.",
                                 "Choose another antiepileptic.", (SOURCE,))
                         for r in known if r.ingredient == "valproate"]
        order = list(Severity)
        return sorted(findings, key=lambda f: order.index(f.severity))


def pregnancy_in(resources: Iterable[Mapping[str, Any]]) -> str | None:
    """A pregnancy Condition (SNOMED 77386006) is the evidence."""
    for resource in resources:
        codings = (resource.get("code") or {}).get("coding") or []
        if any(c.get("code") == "77386006" for c in codings):
            return "Condition 77386006"
    return None
