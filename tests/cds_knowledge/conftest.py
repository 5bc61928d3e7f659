"""One checker for the whole directory: loading and indexing is what ``from_data`` is for."""

from __future__ import annotations

import pytest

from resolvers.cds.knowledge import InteractionChecker
from resolvers.cds.model import Coding, MedicationFacts

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"


@pytest.fixture(scope="session")
def checker() -> InteractionChecker:
    return InteractionChecker.from_data()


def named(text: str, reference: str | None = None) -> MedicationFacts:
    return MedicationFacts(text=text, reference=reference)


def coded(system: str, code: str, reference: str | None = None) -> MedicationFacts:
    return MedicationFacts(codings=(Coding(system, code),), reference=reference)


def orders(*texts: str) -> list[MedicationFacts]:
    """One MedicationRequest per text, each with its own reference."""
    return [named(text, f"MedicationRequest/mr-{n}") for n, text in enumerate(texts, start=1)]
