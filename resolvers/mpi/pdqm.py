"""IHE PDQm $match (ITI-119): a FHIR Patient in, scored candidates from the MPI out."""

from __future__ import annotations

from typing import Any

from resolvers.audit.model import AuditAction
from resolvers.fhir.errors import problem
from resolvers.fhir.service import FhirUseCases
from resolvers.mpi.fhir_mapping import draft_from_fhir
from resolvers.mpi.matching import MatchCandidate, MatchGrade, PatientMatcher
from resolvers.mpi.scoring.record import fhir_address_text
from resolvers.principal import Caller

MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"
MAX_COUNT = 50


def _parameters(body: Any) -> tuple[dict[str, Any], bool, int]:
    if isinstance(body, dict) and body.get("resourceType") == "Patient":
        return body, False, 10
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise problem(400, "structure", "send a Parameters resource (or a bare Patient)")
    resource, only_certain, count = None, False, 10
    for part in body.get("parameter") or []:
        if not isinstance(part, dict):
            continue
        if part.get("name") == "resource":
            resource = part.get("resource")
        elif part.get("name") == "onlyCertainMatches":
            only_certain = part.get("valueBoolean") is True
        elif part.get("name") == "count" and isinstance(part.get("valueInteger"), int):
            count = part["valueInteger"]
    if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
        raise problem(400, "required", "the 'resource' parameter must be a Patient",
                      "Parameters.parameter.resource")
    return resource, only_certain, max(1, min(count, MAX_COUNT))


class PatientMatchService:
    def __init__(self, matcher: PatientMatcher, fhir: FhirUseCases) -> None:
        self._matcher = matcher
        self._fhir = fhir

    async def match(self, caller: Caller, body: Any) -> dict[str, Any]:
        # Checked (and a denial audited) before the register is searched for the caller.
        await self._fhir.authorize(caller, AuditAction.READ, "Patient")
        resource, only_certain, count = _parameters(body)
        draft = draft_from_fhir(resource)
        candidate = MatchCandidate(
            identifiers=draft.identifiers, family=draft.family, given=draft.given,
            birth_date=draft.birth_date, gender=draft.gender, phone=draft.phone,
            address=fhir_address_text(resource),
            trusted_identifier_systems=frozenset(i.system for i in draft.identifiers))
        matches = [m for m in await self._matcher.match(candidate, limit=count)
                   if m.grade != MatchGrade.NONE
                   and (not only_certain or m.grade == MatchGrade.CERTAIN)]
        found = await self._fhir.read_many(caller, "Patient", [m.patient_id for m in matches])
        if not matches:
            await self._fhir.record_empty_search(caller, "Patient")
        entries = [{
            "fullUrl": f"Patient/{m.patient_id}",
            "resource": found[m.patient_id].document,
            "search": {"mode": "match", "score": round(m.score, 4), "extension": [
                {"url": MATCH_GRADE, "valueCode": m.grade.value}]},
        } for m in matches if m.patient_id in found]
        return {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
                "entry": entries}
