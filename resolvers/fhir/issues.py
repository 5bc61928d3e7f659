"""OperationOutcome issues: what every validator and FHIR use case reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Resource types this gateway stores and validates (issue 3).
SUPPORTED_TYPES: tuple[str, ...] = (
    "Patient", "Encounter", "Observation", "MedicationRequest", "Condition",
    "AllergyIntolerance", "Practitioner", "Organization", "Procedure", "Immunization",
    "DiagnosticReport", "Appointment", "AppointmentResponse",
)
# Types that are validated but not stored as resources of their own.
VALIDATE_ONLY_TYPES: tuple[str, ...] = ("Bundle", "OperationOutcome", "AuditEvent", "MeasureReport",
                                         "ImagingStudy")


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue. ``expression`` is a FHIRPath, e.g. ``Observation.subject``."""

    severity: str  # fatal | error | warning | information
    code: str  # structure | required | value | invalid | code-invalid | invariant | ...
    diagnostics: str
    expression: str | None = None

    def to_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {"severity": self.severity, "code": self.code,
                                 "diagnostics": self.diagnostics}
        if self.expression:
            issue["expression"] = [self.expression]
        return issue


def is_error(issue: Issue) -> bool:
    return issue.severity in ("fatal", "error")


def operation_outcome(issues: Sequence[Issue]) -> dict[str, Any]:
    if not issues:
        return {"resourceType": "OperationOutcome", "issue": [{
            "severity": "information", "code": "informational",
            "diagnostics": "no problems found"}]}
    return {"resourceType": "OperationOutcome", "issue": [i.to_fhir() for i in issues]}
