"""Organization scoping on the FHIR store (see resolvers/tenancy.py for the rule).

A confined caller sees a Patient when its managing organization is in scope, and a resource
about a patient (subject/patient) when that patient is. Outside: answered like an absent
resource (404, so the answer does not say the patient exists elsewhere), recorded as denied
with the patient's id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome, AuditRecord
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.clock import Clock
from resolvers.fhir.errors import FhirProblem, problem
from resolvers.fhir.model import Condition, SearchRequest
from resolvers.fhir.ports import FhirUnitOfWork
from resolvers.fhir.search_params import patient_of
from resolvers.principal import Caller
from resolvers.tenancy import OrganizationScoping, patients_outside

# Types whose resources are about one patient (subject or patient reference).
PATIENT_COMPARTMENT = frozenset(("Observation", "DiagnosticReport", "Encounter",
                                 "MedicationRequest", "Condition", "AllergyIntolerance",
                                 "Procedure", "Immunization", "Appointment",
                                 "AppointmentResponse"))


def _managing_organization(doc: dict[str, Any]) -> str | None:
    ref = (doc.get("managingOrganization") or {}).get("reference", "")
    return ref.split("/", 1)[1] if isinstance(ref, str) and ref.startswith(
        "Organization/") else None


class FhirScoping:
    def __init__(self, scoping: OrganizationScoping, clock: Clock, audit: AuditTrail) -> None:
        self._scoping = scoping
        self._clock = clock
        self._audit = audit

    async def outside(self, uow: FhirUnitOfWork, caller: Caller,
                      docs: Sequence[dict[str, Any]]) -> list[str]:
        """The patients of these documents the caller may not see ([] when unconfined)."""
        if not self._scoping.confines(caller):
            return []
        scope = await self._scoping.scope(uow, caller)
        outside: list[str] = []
        for doc in docs:
            if doc.get("resourceType") == "Patient":
                # A Patient counts by its (new) managing organization, as written.
                if not scope.allows(_managing_organization(doc)):
                    outside.append(str(doc.get("id") or ""))
                continue
            patient = patient_of(doc)
            if patient:
                outside += await patients_outside(uow, scope, [patient])
        return outside

    def _denied(self, caller: Caller, action: AuditAction, resource_type: str,
                resource_id: str | None, patients: Sequence[str]) -> list[AuditRecord]:
        return audit_records(
            caller, action=action, resource_type=resource_type,
            targets=[(resource_id, p or None) for p in patients] or [(resource_id, None)],
            outcome=AuditOutcome.DENIED, at=self._clock.now())

    @staticmethod
    def _not_known(resource_type: str, resource_id: str | None) -> FhirProblem:
        return problem(404, "not-found", f"{resource_type}/{resource_id or ''} is not known "
                       "in your organization")

    async def deny(self, uow: FhirUnitOfWork, caller: Caller, action: AuditAction,
                   resource_type: str, resource_id: str | None,
                   patients: Sequence[str]) -> FhirProblem:
        """Record the denial in the write's own transaction (committed) and return the 404
        to raise."""
        await uow.audit.append(self._denied(caller, action, resource_type, resource_id,
                                            patients))
        await uow.commit()
        return self._not_known(resource_type, resource_id)

    async def deny_read(self, caller: Caller, resource_type: str, resource_id: str | None,
                        patients: Sequence[str]) -> FhirProblem:
        """A read's denial, committed through the audit trail (a read's unit of work is
        read-only); returns the 404 to raise."""
        await self._audit.record(self._denied(caller, AuditAction.READ, resource_type,
                                              resource_id, patients))
        return self._not_known(resource_type, resource_id)

    async def confine_search(self, uow: FhirUnitOfWork, caller: Caller, request: SearchRequest,
                             named: Sequence[str]) -> SearchRequest:
        """Patients: only those managed by the caller's organizations. Resources about a
        patient: the search must name patients (patient= or subject=), all in scope. Other
        types (Practitioner, Organization) are not patient data and stay searchable."""
        scope = await self._scoping.scope(uow, caller)
        if scope.unrestricted:
            return request
        if request.resource_type == "Patient":
            orgs = tuple(f"Organization/{o}" for o in sorted(scope.organizations or ()))
            # "-" matches no reference: a caller with no organization finds nobody.
            return replace(request, conditions=(
                *request.conditions, Condition("organization", "reference", orgs or ("-",))))
        if request.resource_type not in PATIENT_COMPARTMENT:
            return request
        if not named:
            await self.deny_read(caller, request.resource_type, None, [])
            raise problem(403, "forbidden", "with organization scoping, a search of "
                          f"{request.resource_type} must name the patient (patient= or "
                          "subject=)")
        outside = await patients_outside(uow, scope, named)
        if outside:
            raise await self.deny_read(caller, request.resource_type, None, outside)
        return request
