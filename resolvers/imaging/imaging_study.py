"""A study as a FHIR R4 ImagingStudy: what the access call answers beside the viewer URL."""

from __future__ import annotations

from typing import Any

from resolvers.imaging.model import StudySummary

DCM = "http://dicom.nema.org/resources/ontology/DCM"  # DICOM's modality codes (CID 29)


def imaging_study(study: StudySummary, patient_id: str) -> dict[str, Any]:
    """``id`` is the Study Instance UID (digits and dots, at most 64: a valid FHIR id)."""
    resource: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "id": study.study_uid,
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{study.study_uid}"}],
        "status": "available",
        "subject": {"reference": f"Patient/{patient_id}"},
        "numberOfSeries": len(study.series),
        "numberOfInstances": study.instances,
    }
    if study.modalities:
        resource["modality"] = [{"system": DCM, "code": m} for m in study.modalities]
    if study.started is not None:
        resource["started"] = study.started.isoformat()
    if study.description:
        resource["description"] = study.description
    if study.accession_number:
        resource["identifier"].append({
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                 "code": "ACSN"}]},
            "value": study.accession_number})
    series = []
    for s in study.series:
        entry: dict[str, Any] = {"uid": s.series_uid, "numberOfInstances": s.instances,
                                 "modality": {"system": DCM, "code": s.modality or "OT"}}
        if s.number is not None:
            entry["number"] = s.number
        if s.description:
            entry["description"] = s.description
        series.append(entry)
    if series:
        resource["series"] = series
    return resource
