"""The validator against the official R4 examples and thousands of mutants of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.fhir.validator import HANDLED_TYPES, FhirValidator
from resolvers.fhir.issues import Issue, is_error
from tests.fhir.conftest import CORPUS_REPORT, MUTANT_REPORT
from tests.fhir.corpus import TYPES, example_files, load
from tests.fhir.mutants import Definitions, Mutant, bundle_mutants, mutants
from tools.r4_spec import R4Package

# Official examples that break one of the gateway's own rules (layer 2, resolvers/fhir/rules.py):
# they are valid R4, but a Patient without id or identifier cannot be matched, and an
# Observation without a subject cannot be filed. Pinned, so that anything else fails.
_REPORT_OBSERVATIONS: set[tuple[str | None, str]] = {
    (f"Bundle.entry[{i}].resource.subject", "required") for i in range(1, 14)}
RULE_DEVIATIONS: dict[str, set[tuple[str | None, str]]] = {
    "Observation-decimal.json": {("Observation.subject", "required")},
    "Bundle-bundle-references.json": {("Bundle.entry[1].resource.identifier", "required")},
    "Bundle-bundle-transaction.json": {("Bundle.entry[0].resource.identifier", "required")},
    "Bundle-ghp.json": {(f"Bundle.entry[{i}].resource.subject", "required")
                        for i in (4, 22, 45)},
    "Bundle-report.json": _REPORT_OBSERVATIONS,
}


def _errors(issues: list[Issue]) -> list[str]:
    return [f"{i.code} at {i.expression}: {i.diagnostics}" for i in issues if is_error(i)]


@pytest.mark.parametrize("resource_type", TYPES)
def test_every_official_example_is_valid(resource_type: str, r4_examples: Path,
                                         validator: FhirValidator,
                                         structure_validator: FhirValidator) -> None:
    files = example_files(r4_examples, resource_type)
    assert files, f"no official {resource_type} examples in {r4_examples}"
    structure_errors: dict[str, list[str]] = {}
    rule_mismatches: dict[str, Any] = {}
    warnings = rule_errors = 0
    for path in files:
        resource = load(path)
        structural = structure_validator.validate(resource)
        if _errors(structural):
            structure_errors[path.name] = _errors(structural)
        warnings += sum(i.severity == "warning" for i in structural)
        found = {(i.expression, i.code) for i in validator.validate(resource) if is_error(i)}
        rule_errors += len(found)
        if found != RULE_DEVIATIONS.get(path.name, set()):
            rule_mismatches[path.name] = sorted(found ^ RULE_DEVIATIONS.get(path.name, set()),
                                                key=str)
    CORPUS_REPORT[resource_type] = {"examples": len(files), "structure_errors": len(
        structure_errors), "rule_errors": rule_errors, "warnings": warnings}
    assert structure_errors == {}
    assert rule_mismatches == {}


def test_the_corpus_is_the_whole_package(r4_examples: Path) -> None:
    """All 267 examples of the 14 types, as published (guards against a half-extracted cache)."""
    counts = {t: len(example_files(r4_examples, t)) for t in TYPES}
    assert counts == {
        "Patient": 22, "Encounter": 10, "Observation": 64, "MedicationRequest": 40,
        "Condition": 12, "AllergyIntolerance": 6, "Practitioner": 14, "Organization": 13,
        "Procedure": 16, "Immunization": 5, "DiagnosticReport": 6, "Bundle": 44,
        "OperationOutcome": 6, "AuditEvent": 9}


# ------------------------------------------------------------------ mutants


@pytest.fixture(scope="session")
def definitions(r4_package: R4Package) -> Definitions:
    return Definitions(r4_package, TYPES)


def _check(validator: FhirValidator, batch: list[Mutant], base: str | None = None) -> list[str]:
    failures = []
    for m in batch:
        issues = validator.validate(m.resource)
        wanted = [i for i in issues if (i.expression, i.code) == (m.expression, m.code)
                  and i.severity == m.severity]
        if not wanted:
            got = [(i.severity, i.code, i.expression) for i in issues]
            failures.append(f"{m.source}: {m.description}: expected {m.severity} {m.code} at "
                            f"{m.expression}, got {got}")
    return failures


@pytest.mark.parametrize("resource_type", [t for t in TYPES if t != "Bundle"])
def test_mutants_of_official_examples_are_rejected(
        resource_type: str, small_examples: dict[str, list[tuple[str, dict[str, Any]]]],
        definitions: Definitions, validator: FhirValidator) -> None:
    batch = [m for name, resource in small_examples[resource_type]
             for m in mutants(definitions, name, resource)]
    kinds = {m.kind for m in batch}
    assert {"required-removed", "wrong-type", "unknown-element", "null-or-empty"} <= kinds
    for m in batch:
        MUTANT_REPORT[m.kind] = MUTANT_REPORT.get(m.kind, 0) + 1
    assert _check(validator, batch) == []


def test_bundle_entry_mutants_are_reported_at_the_entry(
        small_examples: dict[str, list[tuple[str, dict[str, Any]]]],
        definitions: Definitions, validator: FhirValidator) -> None:
    batch = [m for name, bundle in small_examples["Bundle"]
             for m in bundle_mutants(definitions, name, bundle, HANDLED_TYPES)]
    batch += [m for name, bundle in small_examples["Bundle"]
              for m in mutants(definitions, name, bundle)]
    assert len({m.source for m in batch}) >= 20
    assert any(m.expression.startswith("Bundle.entry[2].resource.") for m in batch)
    MUTANT_REPORT["bundle"] = len(batch)
    assert _check(validator, batch) == []


def test_an_entry_status_mutant_names_the_entry(validator: FhirValidator) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p"}},
        {"resource": {"resourceType": "Patient", "id": "q"}},
        {"resource": {"resourceType": "Observation", "status": "done", "code": {"text": "x"},
                      "subject": {"reference": "Patient/p"}}}]}
    issues = validator.validate(bundle)
    assert [(i.severity, i.code, i.expression) for i in issues] == [
        ("error", "code-invalid", "Bundle.entry[2].resource.status")]
