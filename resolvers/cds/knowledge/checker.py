"""The interaction checker: the knowledge base, indexed once, asked many times.

``InteractionChecker.from_data()`` loads and validates the shipped data (or a directory's)
and builds plain dicts: (system, code) and normalised name -> ingredients; a sorted
ingredient pair -> the interaction entries that cover it (class sides expanded once, here);
ingredient -> duplicate-therapy rules; ingredient -> pregnancy entries. ``check`` then does
only dict lookups over the pairs of medications it is given.

What ``check`` reports, each once, most severe first:

* an **interaction** for every pair of medications (two different ``MedicationFacts``)
  whose ingredients an entry covers; a combination product is one medication, so its own
  ingredients never interact with each other, and one entry fires once per pair of
  medications even when several ingredients match (efavirenz with artemether *and*
  lumefantrine is one finding);
* **duplicate therapy** for two medications with ingredients of one class that has a rule
  (two NSAIDs, two NNRTIs, ...), and for the same ingredient in two different orders
  (different references, or different texts or codings); an order sent twice (the same
  reference, or identical facts) is one order: not a duplicate, and its findings come once;
* a **pregnancy** finding per medication when ``pregnant`` is true.

Order: severity (contraindicated first), then kind (interaction, duplicate, pregnancy),
then the position of the medications in the request, then the entry id: deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from resolvers.cds.knowledge.entries import (
    ClinicalText,
    DuplicateRule,
    InteractionEntry,
    KnowledgeBase,
    PregnancyEntry,
)
from resolvers.cds.knowledge.loading import load_knowledge_base
from resolvers.cds.knowledge.recognition import MedicationIndex
from resolvers.cds.model import (
    Finding,
    FindingKind,
    MedicationFacts,
    RecognisedMedication,
    Severity,
)

_SEVERITY_RANK = {Severity.CONTRAINDICATED: 0, Severity.MAJOR: 1, Severity.MODERATE: 2,
                  Severity.MINOR: 3}
_KIND_RANK = {FindingKind.INTERACTION: 0, FindingKind.DUPLICATE_THERAPY: 1, FindingKind.PREGNANCY: 2}
SUMMARY_LIMIT = 140
PLLR_NOTE = ("Former US FDA pregnancy category {letter}; the letter categories were removed from "
             "US labels by the Pregnancy and Lactation Labeling Rule (2015).")

_SortKey = tuple[int, int, int, int, str]


def _first_of_each_order(medications: Sequence[MedicationFacts]) -> list[bool]:
    """False for facts that repeat an earlier order: the same reference, or identical in every
    field. A repeated order is one order: no duplicate of itself, no second set of findings."""
    references: set[str] = set()
    seen: set[MedicationFacts] = set()
    first: list[bool] = []
    for facts in medications:
        repeated = facts in seen or (facts.reference is not None and facts.reference in references)
        first.append(not repeated)
        seen.add(facts)
        if facts.reference is not None:
            references.add(facts.reference)
    return first


@lru_cache(maxsize=4096)
def _summary(text: str, names: tuple[str, ...]) -> str:
    """The entry's summary, naming the medications when it does not already."""
    lowered = text.casefold()
    missing = [n for n in names if n.casefold() not in lowered]
    if missing:
        text = f"{' + '.join(names)}: {text}"
    text = text[:1].upper() + text[1:]
    if len(text) > SUMMARY_LIMIT:
        text = text[: SUMMARY_LIMIT - 1].rstrip() + "…"
    return text


class InteractionChecker:
    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb
        self._index = MedicationIndex(kb.ingredients + kb.products)
        self._names = {ing.id: ing.name for ing in kb.ingredients}
        members = kb.class_members()
        pairs: dict[tuple[str, str], list[InteractionEntry]] = {}
        for entry in kb.interactions:
            for x in kb.side_ingredients(entry.a, members):
                for y in kb.side_ingredients(entry.b, members):
                    if x == y:  # the same ingredient twice is duplicate therapy, not an interaction
                        continue
                    listed = pairs.setdefault((min(x, y), max(x, y)), [])
                    if entry not in listed:
                        listed.append(entry)
        self._pairs = {key: tuple(entries) for key, entries in pairs.items()}
        by_class: dict[str, list[DuplicateRule]] = {}
        self._same_ingredient: DuplicateRule | None = None
        for rule in kb.duplicates:
            if rule.same_ingredient:
                self._same_ingredient = rule
            elif rule.class_id is not None:
                for ingredient in members[rule.class_id]:
                    by_class.setdefault(ingredient, []).append(rule)
        self._duplicates = {i: tuple(rules) for i, rules in by_class.items()}
        by_ingredient: dict[str, list[PregnancyEntry]] = {}
        for preg in kb.pregnancy:
            for ingredient in sorted(kb.side_ingredients(preg.applies_to, members)):
                by_ingredient.setdefault(ingredient, []).append(preg)
        self._pregnancy = {i: tuple(entries) for i, entries in by_ingredient.items()}
        # For each ingredient, every ingredient it can form a finding with (an interaction
        # partner, a class-mate under a duplicate rule, itself): most pairs of a request are
        # ruled out by one set test before any entry is looked at.
        partners: dict[str, set[str]] = {i.id: {i.id} for i in kb.ingredients}
        for x, y in self._pairs:
            partners[x].add(y)
            partners[y].add(x)
        for ingredient, rules in self._duplicates.items():
            for rule in rules:
                if rule.class_id is not None:
                    partners[ingredient] |= members[rule.class_id]
        self._partners = {i: frozenset(p) for i, p in partners.items()}

    @classmethod
    def from_data(cls, directory: Path | None = None) -> InteractionChecker:
        """Load (default: the shipped data), validate and index; ``KnowledgeBaseError`` on bad data."""
        return cls(load_knowledge_base(directory))

    @property
    def version(self) -> str:
        return self._kb.version

    @property
    def knowledge_base(self) -> KnowledgeBase:
        return self._kb

    def recognise(self, facts: MedicationFacts) -> tuple[RecognisedMedication, ...]:
        return self._index.recognise(facts)

    def check(self, medications: Sequence[MedicationFacts], *, pregnant: bool = False) -> list[Finding]:
        recognised = [self._index.recognise(facts) if first else ()
                      for facts, first in zip(medications, _first_of_each_order(medications), strict=True)]
        contents = [frozenset(r.ingredient for r in recs) for recs in recognised]
        reach = [frozenset().union(*(self._partners[i] for i in ingredients)) for ingredients in contents]
        found: dict[tuple[str, int, int], tuple[_SortKey, Finding]] = {}
        for i, first in enumerate(recognised):
            if not first:
                continue
            for j in range(i + 1, len(recognised)):
                if not reach[i].isdisjoint(contents[j]):  # else nothing in the knowledge base links them
                    self._pair_findings(first, recognised[j], i, j, found)
            if pregnant:
                for rec in first:
                    for preg in self._pregnancy.get(rec.ingredient, ()):
                        self._add(found, preg.text, FindingKind.PREGNANCY, (rec,), i, -1,
                                  preg.fda_letter)
        return [finding for _, finding in sorted(found.values(), key=lambda item: item[0])]

    def _pair_findings(self, first: tuple[RecognisedMedication, ...],
                       second: tuple[RecognisedMedication, ...], i: int, j: int,
                       found: dict[tuple[str, int, int], tuple[_SortKey, Finding]]) -> None:
        for a in first:
            for b in second:
                if a.ingredient == b.ingredient:
                    if self._same_ingredient is not None:
                        self._add(found, self._same_ingredient.text, FindingKind.DUPLICATE_THERAPY,
                                  (a, b), i, j)
                    continue
                key = (a.ingredient, b.ingredient) if a.ingredient < b.ingredient \
                    else (b.ingredient, a.ingredient)
                for entry in self._pairs.get(key, ()):
                    self._add(found, entry.text, FindingKind.INTERACTION, (a, b), i, j)
                rules_b = self._duplicates.get(b.ingredient, ())
                for rule in self._duplicates.get(a.ingredient, ()):
                    if rule in rules_b:
                        self._add(found, rule.text, FindingKind.DUPLICATE_THERAPY, (a, b), i, j)

    def _add(self, found: dict[tuple[str, int, int], tuple[_SortKey, Finding]], text: ClinicalText,
             kind: FindingKind, meds: tuple[RecognisedMedication, ...], i: int, j: int,
             fda_letter: str | None = None) -> None:
        key = (text.id, i, j)
        if key in found:  # one finding per entry and pair of medications
            return
        names = tuple(dict.fromkeys(self._names[m.ingredient] for m in meds))
        effect = text.clinical_effect
        if fda_letter is not None:
            effect = f"{effect} {PLLR_NOTE.format(letter=fda_letter)}"
        finding = Finding(kind=kind, entry_id=text.id, severity=text.severity, medications=meds,
                          summary=_summary(text.summary, names), mechanism=text.mechanism,
                          clinical_effect=effect, management=text.management, sources=text.sources)
        found[key] = ((_SEVERITY_RANK[text.severity], _KIND_RANK[kind], i, j, text.id), finding)
