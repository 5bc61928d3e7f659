"""The services the gateway declares at ``GET /cds-services``.

``drug-interaction-check`` keeps the documented id and is listed once per hook it serves
(patient-view as documented, and order-select and order-sign, where a check matters most):
the specification allows one id under several hooks, and the hook in the request body says
which is called. ``lab-critical-values`` reads the patient's recent laboratory Observations
from the gateway's own FHIR store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from resolvers.cds.hooks.model import ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW

DRUG_INTERACTION_CHECK = "drug-interaction-check"
LAB_CRITICAL_VALUES = "lab-critical-values"

MEDICATIONS_PREFETCH = "MedicationRequest?patient={{context.patientId}}&status=active"
# Observations that may show a pregnancy: status (82810-3, 11449-6), hCG (2106-3, 2118-8,
# 19080-1), estimated delivery date (11778-8), gestational age (49051-6).
PREGNANCY_CODES = ",".join(f"http://loinc.org|{code}" for code in (
    "82810-3", "11449-6", "2106-3", "2118-8", "19080-1", "11778-8", "49051-6"))
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "medications": MEDICATIONS_PREFETCH,
    # What tells the checker the patient is pregnant.
    "conditions": "Condition?patient={{context.patientId}}",
    "pregnancy": "Observation?patient={{context.patientId}}&code=" + PREGNANCY_CODES,
}


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str] = field(default_factory=dict)

    def discovery(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"hook": self.hook, "title": self.title,
                                 "description": self.description, "id": self.id}
        if self.prefetch:  # never an empty object (the specification's JSON rule)
            entry["prefetch"] = dict(self.prefetch)
        return entry


def _drug_check(hook: str) -> ServiceDefinition:
    return ServiceDefinition(DRUG_INTERACTION_CHECK, hook, "Drug Interaction Check",
                             "Checks for drug-drug interactions", PREFETCH)


SERVICES: tuple[ServiceDefinition, ...] = (
    _drug_check(PATIENT_VIEW),
    _drug_check(ORDER_SELECT),
    _drug_check(ORDER_SIGN),
    ServiceDefinition(
        LAB_CRITICAL_VALUES, PATIENT_VIEW, "Critical Lab Values",
        "Flags the patient's recent laboratory results at or beyond critical (panic) limits",
        {"patient": "Patient/{{context.patientId}}"}),
)
HOOKS_OF: dict[str, frozenset[str]] = {
    sid: frozenset(s.hook for s in SERVICES if s.id == sid) for sid in {s.id for s in SERVICES}}


def discovery() -> dict[str, Any]:
    return {"services": [s.discovery() for s in SERVICES]}
