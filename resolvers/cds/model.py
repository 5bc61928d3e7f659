"""The clinical decision support model shared by the knowledge base and the CDS Hooks surface.

The knowledge base (``resolvers/cds/knowledge/``) recognises medications and finds problems
between them; the CDS Hooks use cases (``resolvers/cds/hooks/``) turn findings into cards.
These are the only types the two exchange.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    CONTRAINDICATED = "contraindicated"
    MAJOR = "major"
    MODERATE = "moderate"
    MINOR = "minor"


class FindingKind(StrEnum):
    INTERACTION = "interaction"  # two different medications
    DUPLICATE_THERAPY = "duplicate-therapy"  # two medications of one therapeutic class
    PREGNANCY = "pregnancy"  # one medication, for a pregnant patient


@dataclass(frozen=True)
class Coding:
    system: str  # a FHIR system URI, or "" when the sender gave none
    code: str
    display: str | None = None


@dataclass(frozen=True)
class MedicationFacts:
    """One medication as a caller sent it: what the knowledge base may recognise it by.

    ``reference`` is the relative reference of the resource it came from
    ("MedicationRequest/mr-1"), when it came from one; ``draft`` is true for the draft
    orders of order-select and order-sign (the medications being decided on now).
    """

    codings: tuple[Coding, ...] = ()
    text: str | None = None
    reference: str | None = None
    draft: bool = False


@dataclass(frozen=True)
class RecognisedMedication:
    """A medication the knowledge base recognised, and by what."""

    facts: MedicationFacts
    ingredient: str  # the knowledge base's normalised ingredient name, e.g. "rifampicin"
    matched_by: Coding  # the coding (or Coding("name", <normalised text>)) that matched


@dataclass(frozen=True)
class Source:
    label: str  # "WHO Consolidated HIV guidelines 2021", "US FDA label: Biktarvy", ...
    url: str | None = None
    citation: str | None = None  # section, table or page


@dataclass(frozen=True)
class Finding:
    """One problem: a pair that interacts, a duplicated class, or a pregnancy warning."""

    kind: FindingKind
    entry_id: str  # the knowledge base entry's stable id
    severity: Severity
    medications: tuple[RecognisedMedication, ...]  # two for pairs, one for pregnancy
    summary: str  # one sentence, at most 140 characters
    mechanism: str
    clinical_effect: str
    management: str
    sources: tuple[Source, ...]
