"""The shipped data: its schema, a source for every entry, coverage, and refusal of bad data."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from resolvers.cds.knowledge import InteractionChecker, KnowledgeBaseError
from resolvers.cds.knowledge.loading import DATA_DIRECTORY, FILES, schema
from resolvers.cds.model import Coding, MedicationFacts


def load(name: str) -> Any:
    return json.loads((DATA_DIRECTORY / name).read_text())


@pytest.mark.parametrize(("name", "definition"), FILES.items())
def test_each_file_matches_the_schema(name: str, definition: str) -> None:
    validator = jsonschema_rs.validator_for({**schema(), "$ref": f"#/$defs/{definition}"})
    assert [e.message for e in validator.iter_errors(load(name))] == []


def test_the_schema_is_a_valid_json_schema() -> None:
    meta = jsonschema_rs.validator_for({"$ref": "https://json-schema.org/draft/2020-12/schema"})
    assert meta.is_valid(schema())


def test_every_entry_cites_a_source_with_a_label_and_a_citation(checker: InteractionChecker) -> None:
    kb = checker.knowledge_base
    texts = ([e.text for e in kb.interactions] + [d.text for d in kb.duplicates]
             + [p.text for p in kb.pregnancy])
    assert texts
    for text in texts:
        assert text.sources, text.id
        for source in text.sources:
            assert source.label and source.citation, text.id
            assert source.url is None or source.url.startswith("https://"), text.id
    assert all(cls.sources for cls in kb.classes)


def test_every_brand_has_a_source() -> None:
    meds = load("medications.json")
    catalogue = load("sources.json")["sources"]
    brands = [b for m in meds["ingredients"] + meds["products"] for b in m["brands"]]
    assert len(brands) >= 20
    assert all(b["source"]["ref"] in catalogue for b in brands)


def test_coverage(checker: InteractionChecker) -> None:
    kb = checker.knowledge_base
    assert len(kb.interactions) >= 50
    assert len(kb.ingredients) >= 100
    assert len(kb.pregnancy) >= 15
    assert checker.version == "2026-12-07"


def test_the_data_is_shipped_in_the_package() -> None:
    root = Path(__file__).resolve().parents[2]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["resolvers"]
    shipped = {path for pattern in globs for path in (root / "resolvers").glob(pattern)}
    assert set(DATA_DIRECTORY.glob("*.json")) <= shipped


# ------------------------------------------------------------------ bad data is refused


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    shutil.copytree(DATA_DIRECTORY, directory)
    return directory


def edit(directory: Path, name: str, change: Any) -> None:
    document = json.loads((directory / name).read_text())
    change(document)
    (directory / name).write_text(json.dumps(document))


def test_a_copy_of_the_data_loads(data_copy: Path) -> None:
    assert InteractionChecker.from_data(data_copy).version == "2026-12-07"


def test_an_entry_without_sources_is_refused(data_copy: Path) -> None:
    edit(data_copy, "interactions.json", lambda d: d["interactions"][0].update(sources=[]))
    with pytest.raises(KnowledgeBaseError, match=r"^interactions.json: does not match the schema: .*"
                                                 r"/interactions/0/sources: \[\] has less than 1 item"):
        InteractionChecker.from_data(data_copy)


def test_an_unknown_severity_is_refused(data_copy: Path) -> None:
    edit(data_copy, "interactions.json", lambda d: d["interactions"][0].update(severity="severe"))
    with pytest.raises(KnowledgeBaseError, match=r"/interactions/0/severity"):
        InteractionChecker.from_data(data_copy)


def test_an_unknown_ingredient_is_refused(data_copy: Path) -> None:
    edit(data_copy, "interactions.json",
         lambda d: d["interactions"][0].update(b={"ingredients": ["unobtainium"]}))
    with pytest.raises(KnowledgeBaseError, match=r"unknown ingredient\(s\) \['unobtainium'\]"):
        InteractionChecker.from_data(data_copy)


def test_an_unknown_source_is_refused(data_copy: Path) -> None:
    edit(data_copy, "pregnancy.json",
         lambda d: d["pregnancy"][0]["sources"][0].update(ref="my-memory"))
    with pytest.raises(KnowledgeBaseError, match=r"unknown source 'my-memory'"):
        InteractionChecker.from_data(data_copy)


def test_an_ambiguous_name_is_refused(data_copy: Path) -> None:
    edit(data_copy, "medications.json",
         lambda d: d["ingredients"][1]["synonyms"].append("Rifampicin 10 mg"))
    with pytest.raises(KnowledgeBaseError, match=r"means both rifampicin and"):
        InteractionChecker.from_data(data_copy)


def test_a_code_for_two_medications_is_refused(data_copy: Path) -> None:
    edit(data_copy, "medications.json",
         lambda d: d["ingredients"][1]["codes"]["rxnorm"].append("9384"))
    with pytest.raises(KnowledgeBaseError, match=r"the code 9384 .* means both"):
        InteractionChecker.from_data(data_copy)


def test_files_that_disagree_on_the_version_are_refused(data_copy: Path) -> None:
    edit(data_copy, "pregnancy.json", lambda d: d.update(version="2027-01-01"))
    with pytest.raises(KnowledgeBaseError, match=r"disagree on the version"):
        InteractionChecker.from_data(data_copy)


def test_a_missing_or_broken_file_is_refused(data_copy: Path) -> None:
    (data_copy / "duplicates.json").write_text("{not json")
    with pytest.raises(KnowledgeBaseError, match=r"duplicates.json: not readable JSON"):
        InteractionChecker.from_data(data_copy)
    (data_copy / "duplicates.json").unlink()
    with pytest.raises(KnowledgeBaseError, match=r"duplicates.json: missing"):
        InteractionChecker.from_data(data_copy)


def test_a_duplicate_id_is_refused(data_copy: Path) -> None:
    edit(data_copy, "pregnancy.json", lambda d: d["pregnancy"][1].update(id="rifampicin-dolutegravir"))
    with pytest.raises(KnowledgeBaseError, match=r"'rifampicin-dolutegravir' is used twice"):
        InteractionChecker.from_data(data_copy)


# ------------------------------------------------------------------ every name and code round-trips


def test_every_name_in_the_data_is_recognised_as_its_medication(checker: InteractionChecker) -> None:
    kb = checker.knowledge_base
    for medication in kb.ingredients + kb.products:
        for name in medication.names:
            recognised = checker.recognise(MedicationFacts(text=name))
            assert tuple(r.ingredient for r in recognised) == medication.ingredients, name


def test_every_code_in_the_data_is_recognised_as_its_medication(checker: InteractionChecker) -> None:
    kb = checker.knowledge_base
    for medication in kb.ingredients + kb.products:
        for system, code in medication.codes:
            recognised = checker.recognise(MedicationFacts(codings=(Coding(system, code),)))
            assert tuple(r.ingredient for r in recognised) == medication.ingredients, (system, code)
