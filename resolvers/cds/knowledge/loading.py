"""Reading the knowledge base's JSON files: schema first, then the references between files.

Every file is validated against its definition in ``knowledge_base.schema.json`` (JSON
Schema 2020-12, checked by jsonschema-rs); then the loader checks what a schema cannot: one
version across files, ids unique, every reference (ingredient, class, source) known, and no
name or code that would mean two different things. Any problem raises
``KnowledgeBaseError`` naming the file and the place, and nothing is returned half-built.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema_rs

from resolvers.cds.knowledge.entries import (
    ATC,
    RXNORM,
    SNOMED,
    ClinicalText,
    DuplicateRule,
    InteractionEntry,
    KnowledgeBase,
    Medication,
    MedicationClass,
    PregnancyEntry,
    Side,
)
from resolvers.cds.knowledge.names import normalise_name
from resolvers.cds.model import Severity, Source

DATA_DIRECTORY = Path(__file__).resolve().parent / "data"
SCHEMA_FILE = "knowledge_base.schema.json"
# file name -> its definition in the schema
FILES = {
    "sources.json": "sourcesFile",
    "medications.json": "medicationsFile",
    "interactions.json": "interactionsFile",
    "duplicates.json": "duplicatesFile",
    "pregnancy.json": "pregnancyFile",
}


class KnowledgeBaseError(ValueError):
    """The knowledge base's data is missing, unreadable or inconsistent."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KnowledgeBaseError(f"{path.name}: missing from {path.parent}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KnowledgeBaseError(f"{path.name}: not readable JSON ({exc})") from None


def schema() -> dict[str, Any]:
    """The JSON Schema of the data files (with one definition per file)."""
    loaded: dict[str, Any] = _read_json(DATA_DIRECTORY / SCHEMA_FILE)
    return loaded


def read_files(directory: Path) -> dict[str, Any]:
    """Each data file of ``directory``, validated against its schema definition."""
    definitions = schema()
    documents: dict[str, Any] = {}
    for name, definition in FILES.items():
        document = _read_json(directory / name)
        validator = jsonschema_rs.validator_for({**definitions, "$ref": f"#/$defs/{definition}"})
        errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.instance_path)))
        if errors:
            shown = "; ".join(f"/{'/'.join(map(str, e.instance_path))}: {e.message}" for e in errors[:5])
            more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
            raise KnowledgeBaseError(f"{name}: does not match the schema: {shown}{more}")
        documents[name] = document
    versions = {name: doc["version"] for name, doc in documents.items()}
    if len(set(versions.values())) != 1:
        raise KnowledgeBaseError(f"the data files disagree on the version: {versions}")
    return documents


class _Resolver:
    """Turns cited-source references into ``Source`` and checks ids as it goes."""

    def __init__(self, catalogue: Mapping[str, Mapping[str, Any]]) -> None:
        self._catalogue = catalogue

    def sources(self, where: str, cited: Iterable[Mapping[str, str]]) -> tuple[Source, ...]:
        return tuple(self.source(where, c) for c in cited)

    def source(self, where: str, cited: Mapping[str, str]) -> Source:
        document = self._catalogue.get(cited["ref"])
        if document is None:
            raise KnowledgeBaseError(f"{where}: unknown source {cited['ref']!r} (not in sources.json)")
        return Source(label=document["label"], url=document["url"], citation=cited["citation"])


def _codes(raw: Mapping[str, list[str]]) -> tuple[tuple[str, str], ...]:
    return (tuple((RXNORM, c) for c in raw["rxnorm"]) + tuple((ATC, c) for c in raw["atc"])
            + tuple((SNOMED, c) for c in raw["snomed"]))


def _medication(raw: Mapping[str, Any], ingredients: tuple[str, ...], where: str,
                resolver: _Resolver) -> Medication:
    for brand in raw["brands"]:
        resolver.source(f"{where} brand {brand['name']!r}", brand["source"])
    names = (raw["name"], *raw["synonyms"], *(b["name"] for b in raw["brands"]))
    return Medication(id=raw["id"], name=raw["name"], ingredients=ingredients, names=names,
                      codes=_codes(raw["codes"]), atc=tuple(raw["codes"]["atc"]))


def _text(raw: Mapping[str, Any], where: str, resolver: _Resolver) -> ClinicalText:
    return ClinicalText(id=raw["id"], severity=Severity(raw["severity"]), summary=raw["summary"],
                        mechanism=raw["mechanism"], clinical_effect=raw["clinical_effect"],
                        management=raw["management"],
                        sources=resolver.sources(f"{where} {raw['id']}", raw["sources"]))


def _side(raw: Mapping[str, Any]) -> Side:
    if "class" in raw:
        return Side(class_id=raw["class"])
    return Side(ingredients=tuple(raw["ingredients"]))


def _unique(ids: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for id_ in ids:
        if id_ in seen:
            raise KnowledgeBaseError(f"{what}: id {id_!r} is used twice")
        seen.add(id_)


def _check_references(kb: KnowledgeBase) -> None:
    ingredient_ids = {i.id for i in kb.ingredients}
    class_ids = {c.id for c in kb.classes}

    def side(where: str, s: Side) -> None:
        if s.class_id is not None and s.class_id not in class_ids:
            raise KnowledgeBaseError(f"{where}: unknown class {s.class_id!r}")
        unknown = [i for i in s.ingredients if i not in ingredient_ids]
        if unknown:
            raise KnowledgeBaseError(f"{where}: unknown ingredient(s) {unknown}")

    for product in kb.products:
        side(f"medications.json product {product.id}", Side(ingredients=product.ingredients))
    for cls in kb.classes:
        side(f"medications.json class {cls.id}", Side(ingredients=cls.members))
    for entry in kb.interactions:
        side(f"interactions.json {entry.text.id} (a)", entry.a)
        side(f"interactions.json {entry.text.id} (b)", entry.b)
    for rule in kb.duplicates:
        if rule.same_ingredient == (rule.class_id is not None):
            raise KnowledgeBaseError(f"duplicates.json {rule.text.id}: give either a class or "
                                     "same_ingredient true, not both or neither")
        side(f"duplicates.json {rule.text.id}", Side(class_id=rule.class_id))
    for preg in kb.pregnancy:
        side(f"pregnancy.json {preg.text.id}", preg.applies_to)
    members = kb.class_members()
    for cls in kb.classes:
        if not members[cls.id]:
            raise KnowledgeBaseError(f"medications.json class {cls.id}: no ingredient belongs to it")


def _check_unambiguous(medications: Iterable[Medication]) -> None:
    """A name or a code must lead to one set of ingredients only."""
    by_name: dict[str, tuple[str, tuple[str, ...]]] = {}
    by_code: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
    for med in medications:
        for name in med.names:
            key = normalise_name(name)
            if not key:
                raise KnowledgeBaseError(f"medications.json {med.id}: the name {name!r} normalises "
                                         "to nothing (only dose or form words)")
            seen = by_name.setdefault(key, (med.id, med.ingredients))
            if seen[1] != med.ingredients:
                raise KnowledgeBaseError(f"medications.json: the name {name!r} (key {key!r}) "
                                         f"means both {seen[0]} and {med.id}")
        for code in med.codes:
            seen = by_code.setdefault(code, (med.id, med.ingredients))
            if seen[1] != med.ingredients:
                raise KnowledgeBaseError(f"medications.json: the code {code[1]} ({code[0]}) "
                                         f"means both {seen[0]} and {med.id}")


def load_knowledge_base(directory: Path | None = None) -> KnowledgeBase:
    """The knowledge base in ``directory`` (default: the shipped data), fully checked."""
    documents = read_files(directory or DATA_DIRECTORY)
    resolver = _Resolver(documents["sources.json"]["sources"])
    meds = documents["medications.json"]
    _unique([m["id"] for m in meds["ingredients"]] + [m["id"] for m in meds["products"]],
            "medications.json ingredients and products")
    _unique([c["id"] for c in meds["classes"]], "medications.json classes")
    ingredients = tuple(_medication(raw, (raw["id"],), f"medications.json {raw['id']}", resolver)
                        for raw in meds["ingredients"])
    products = tuple(_medication(raw, tuple(raw["ingredients"]), f"medications.json {raw['id']}",
                                 resolver) for raw in meds["products"])
    classes = tuple(MedicationClass(id=raw["id"], name=raw["name"],
                                    atc_prefixes=tuple(raw["atc_prefixes"]),
                                    members=tuple(raw["members"]),
                                    sources=resolver.sources(f"medications.json {raw['id']}",
                                                             raw["sources"]))
                    for raw in meds["classes"])
    interactions = tuple(InteractionEntry(text=_text(raw, "interactions.json", resolver),
                                          a=_side(raw["a"]), b=_side(raw["b"]))
                         for raw in documents["interactions.json"]["interactions"])
    duplicates = tuple(DuplicateRule(text=_text(raw, "duplicates.json", resolver),
                                     same_ingredient=raw["same_ingredient"], class_id=raw["class"])
                       for raw in documents["duplicates.json"]["duplicate_therapy"])
    pregnancy = tuple(PregnancyEntry(text=_text(raw, "pregnancy.json", resolver),
                                     applies_to=_side(raw["applies_to"]), fda_letter=raw["fda_letter"])
                      for raw in documents["pregnancy.json"]["pregnancy"])
    _unique([e.text.id for e in interactions] + [d.text.id for d in duplicates]
            + [p.text.id for p in pregnancy], "interactions, duplicates and pregnancy entries")
    kb = KnowledgeBase(version=documents["medications.json"]["version"], ingredients=ingredients,
                       products=products, classes=classes, interactions=interactions,
                       duplicates=duplicates, pregnancy=pregnancy)
    _check_references(kb)
    _check_unambiguous(ingredients + products)
    return kb
