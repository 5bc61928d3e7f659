"""The MPI patient record and the FHIR Patient resource: one patient, two shapes.

The FHIR document keeps everything the sender gave (addresses, extensions, ...); the MPI row
holds what matching and the GraphQL Patient need, extracted from it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from resolvers.mpi.model import GENDERS, Identifier, PatientDraft


def draft_from_fhir(doc: dict[str, Any]) -> PatientDraft:
    identifiers = tuple(
        Identifier(str(i["system"]), str(i["value"])) for i in doc.get("identifier") or []
        if isinstance(i, dict) and i.get("system") and i.get("value"))
    names = [n for n in doc.get("name") or [] if isinstance(n, dict)]
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    phone = next((t.get("value") for t in doc.get("telecom") or []
                  if isinstance(t, dict) and t.get("system") == "phone"), None)
    birth = doc.get("birthDate")
    parsed_birth = None
    if isinstance(birth, str) and len(birth) == 10:
        try:
            parsed_birth = date.fromisoformat(birth)
        except ValueError:
            parsed_birth = None
    organization = (doc.get("managingOrganization") or {}).get("reference", "")
    gender = doc.get("gender")
    return PatientDraft(
        identifiers=tuple(dict.fromkeys(identifiers)),
        family=official.get("family") or None,
        given=tuple(g for g in official.get("given") or [] if isinstance(g, str) and g.strip()),
        birth_date=parsed_birth,
        gender=gender if gender in GENDERS else None,
        phone=phone.replace(" ", "") if isinstance(phone, str) else None,
        organization_id=organization.split("/", 1)[1]
        if isinstance(organization, str) and organization.startswith("Organization/") else None,
    )


def fhir_from_draft(patient_id: str, draft: PatientDraft) -> dict[str, Any]:
    doc: dict[str, Any] = {"resourceType": "Patient", "id": patient_id}
    if draft.identifiers:
        doc["identifier"] = [{"system": i.system, "value": i.value} for i in draft.identifiers]
    if draft.family or draft.given:
        name: dict[str, Any] = {"use": "official"}
        if draft.family:
            name["family"] = draft.family
        if draft.given:
            name["given"] = list(draft.given)
        doc["name"] = [name]
    if draft.phone:
        doc["telecom"] = [{"system": "phone", "value": draft.phone}]
    if draft.gender:
        doc["gender"] = draft.gender
    if draft.birth_date:
        doc["birthDate"] = draft.birth_date.isoformat()
    if draft.organization_id:
        doc["managingOrganization"] = {"reference": f"Organization/{draft.organization_id}"}
    return doc


MPI_ELEMENTS = ("identifier", "name", "telecom", "gender", "birthDate", "managingOrganization")


def merge_into_fhir(current: dict[str, Any] | None, patient_id: str,
                    draft: PatientDraft) -> dict[str, Any]:
    """The MPI owns these elements; everything else the FHIR document had is kept."""
    fresh = fhir_from_draft(patient_id, draft)
    if not current:
        return fresh
    merged = {k: v for k, v in current.items() if k not in (*MPI_ELEMENTS, "meta")}
    other_names = [n for n in current.get("name") or []
                   if isinstance(n, dict) and n.get("use") not in (None, "official")]
    other_telecom = [t for t in current.get("telecom") or []
                     if isinstance(t, dict) and t.get("system") != "phone"]
    merged.update({k: v for k, v in fresh.items() if k != "id"})
    if other_names:
        merged["name"] = [*fresh.get("name", []), *other_names]
    if other_telecom:
        merged["telecom"] = [*fresh.get("telecom", []), *other_telecom]
    merged["id"] = patient_id
    return merged
