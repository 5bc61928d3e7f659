"""FHIR failures: a status code and the OperationOutcome issues that explain it."""

from __future__ import annotations

from collections.abc import Sequence

from resolvers.errors import DomainError
from resolvers.fhir.issues import Issue

STRUCTURAL = frozenset({"structure", "required", "value"})


class FhirProblem(DomainError):
    code = "fhir_problem"

    def __init__(self, status: int, issues: Sequence[Issue]) -> None:
        super().__init__(issues[0].diagnostics if issues else f"FHIR error {status}",
                         details=[i.to_fhir() for i in issues])
        self.status = status
        self.issues = list(issues)


def invalid_resource(issues: Sequence[Issue]) -> FhirProblem:
    """400 when the content breaks the base specification, 422 for rules and bindings."""
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    status = 400 if any(i.code in STRUCTURAL for i in errors) else 422
    return FhirProblem(status, issues)


def problem(status: int, code: str, diagnostics: str, expression: str | None = None) -> FhirProblem:
    return FhirProblem(status, [Issue("error", code, diagnostics, expression)])
