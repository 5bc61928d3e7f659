"""The knowledge base as loaded: typed, validated and with every reference resolved.

``loading.load_knowledge_base`` builds a ``KnowledgeBase`` from the JSON files under
``data/``; the recogniser and the checker index it. Sources are resolved from the catalogue
(``sources.json``) into the shared model's ``Source`` (label, URL, citation).
"""

from __future__ import annotations

from dataclasses import dataclass

from resolvers.cds.model import Severity, Source

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"


@dataclass(frozen=True)
class Medication:
    """An ingredient (one substance) or a combination product (several), as named and coded.

    ``ingredients`` is ``(id,)`` for an ingredient and the product's ingredients otherwise.
    ``names`` are the id's display name, synonyms and brand names, as written in the data.
    ``codes`` are (system URI, code) pairs.
    """

    id: str
    name: str
    ingredients: tuple[str, ...]
    names: tuple[str, ...]
    codes: tuple[tuple[str, str], ...]
    atc: tuple[str, ...]


@dataclass(frozen=True)
class MedicationClass:
    id: str
    name: str
    atc_prefixes: tuple[str, ...]
    members: tuple[str, ...]  # explicit members, besides those the ATC prefixes give
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Side:
    """One side of an interaction, or what a pregnancy entry applies to: ingredients or a class."""

    ingredients: tuple[str, ...] = ()
    class_id: str | None = None


@dataclass(frozen=True)
class ClinicalText:
    id: str
    severity: Severity
    summary: str
    mechanism: str
    clinical_effect: str
    management: str
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class InteractionEntry:
    text: ClinicalText
    a: Side
    b: Side


@dataclass(frozen=True)
class DuplicateRule:
    text: ClinicalText
    same_ingredient: bool
    class_id: str | None


@dataclass(frozen=True)
class PregnancyEntry:
    text: ClinicalText
    applies_to: Side
    fda_letter: str | None  # historical US letter category, where a source gave one


@dataclass(frozen=True)
class KnowledgeBase:
    version: str
    ingredients: tuple[Medication, ...]
    products: tuple[Medication, ...]
    classes: tuple[MedicationClass, ...]
    interactions: tuple[InteractionEntry, ...]
    duplicates: tuple[DuplicateRule, ...]
    pregnancy: tuple[PregnancyEntry, ...]

    def class_members(self) -> dict[str, frozenset[str]]:
        """Each class's ingredients: its explicit members and every ingredient with an ATC
        code under one of its prefixes."""
        members: dict[str, frozenset[str]] = {}
        for cls in self.classes:
            by_atc = {ing.id for ing in self.ingredients
                      if any(code.startswith(cls.atc_prefixes) for code in ing.atc)}
            members[cls.id] = frozenset(by_atc | set(cls.members))
        return members

    def side_ingredients(self, side: Side, members: dict[str, frozenset[str]]) -> frozenset[str]:
        if side.class_id is not None:
            return members[side.class_id]
        return frozenset(side.ingredients)
