"""Fixtures of the FHIR validator tests: the official R4 examples (fetched once into a cache
outside git, see ``tests/fhir/corpus.py``) and the validators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.fhir.validator import FhirValidator
from tests.fhir.corpus import TYPES, CorpusUnavailable, examples_dir, iter_examples, load
from tools.r4_spec import R4Package

# Examples up to this size are kept in memory for the mutants; the package also holds a few
# definition Bundles of 4 to 35 MB (StructureDefinitions, ValueSets) that are only validated.
SMALL_EXAMPLE_BYTES = 300_000

# Filled by test_validator_corpus.py, printed at the end of the run.
CORPUS_REPORT: dict[str, dict[str, int]] = {}
MUTANT_REPORT: dict[str, int] = {}


@pytest.fixture(scope="session")
def r4_examples() -> Path:
    """The extracted ``hl7.fhir.r4.examples`` 4.0.1 package (npm pack on first use)."""
    try:
        return examples_dir()
    except CorpusUnavailable as exc:
        pytest.fail(f"the official FHIR R4 examples are unavailable: {exc}")


@pytest.fixture(scope="session")
def r4_package(r4_examples: Path) -> R4Package:
    return R4Package.load(r4_examples)


@pytest.fixture(scope="session")
def small_examples(r4_examples: Path) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """(file name, resource) of every official example under SMALL_EXAMPLE_BYTES, by type."""
    out: dict[str, list[tuple[str, dict[str, Any]]]] = {t: [] for t in TYPES}
    for resource_type, path in iter_examples(r4_examples, max_bytes=SMALL_EXAMPLE_BYTES):
        out[resource_type].append((path.name, load(path)))
    return out


@pytest.fixture(scope="session")
def validator() -> FhirValidator:
    FhirValidator.warm_up()
    return FhirValidator()


@pytest.fixture(scope="session")
def structure_validator() -> FhirValidator:
    return FhirValidator(rules=False)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if CORPUS_REPORT:
        terminalreporter.section("official FHIR R4 examples (hl7.fhir.r4.examples 4.0.1)")
        for resource_type, counts in CORPUS_REPORT.items():
            terminalreporter.write_line(
                f"{resource_type:20} {counts['examples']:3} examples, "
                f"{counts['structure_errors']} structure errors, "
                f"{counts['rule_errors']} rule errors (pinned), {counts['warnings']} warnings")
    if MUTANT_REPORT:
        terminalreporter.section("generated mutants (all rejected as expected)")
        for kind, count in MUTANT_REPORT.items():
            terminalreporter.write_line(f"{kind:24} {count}")
