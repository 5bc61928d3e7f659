"""Annotations in the gateway's FHIR store: one Observation per annotation (category imaging,
``derivedFrom`` the ImagingStudy by its DICOM UID), updated to each new version.

Written by the outbox worker (destination ``imaging-fhir``), so an annotate call commits its
versions and both copies' messages together. The handler always writes the annotation's
latest version, and skips when the stored Observation already carries it: a retry, or a
message delivered after a later one, cannot put an older version back.
"""

from __future__ import annotations

import uuid
from typing import Any

from resolvers.fhir.errors import FhirProblem
from resolvers.fhir.service import FhirUseCases
from resolvers.imaging.model import AnnotationKind, AnnotationVersion
from resolvers.imaging.ports import ImagingStore
from resolvers.outbox.delivery import PermanentDeliveryError
from resolvers.outbox.model import OutboxMessage
from resolvers.principal import Caller, Principal, Role

ANNOTATION_SYSTEM = "urn:cari:imaging-annotation"
VERSION_SYSTEM = "urn:cari:imaging-annotation-version"
UCUM = "http://unitsofmeasure.org"


def observation_id(annotation_id: str) -> str:
    """A FHIR id (annotation ids may hold "_", which FHIR ids may not)."""
    return f"img-{uuid.uuid5(uuid.NAMESPACE_URL, f'cari:annotation:{annotation_id}')}"


def observation(v: AnnotationVersion) -> dict[str, Any]:
    where = (f"{v.kind.value} on series {v.series_uid}, instance {v.instance_uid}, frame "
             f"{v.frame}; image coordinates {', '.join(f'{c:g}' for c in v.coordinates)}")
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": observation_id(v.annotation_id),
        "identifier": [{"system": ANNOTATION_SYSTEM, "value": v.annotation_id},
                       {"system": VERSION_SYSTEM, "value": str(v.version)}],
        "status": "final" if v.version == 1 else "amended",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "imaging"}]}],
        "code": {"coding": [{"system": ANNOTATION_SYSTEM, "code": v.kind.value}],
                 "text": v.label or v.kind.value},
        "subject": {"reference": f"Patient/{v.patient_id}"},
        "effectiveDateTime": v.created_at.isoformat(),
        "issued": v.created_at.isoformat(),
        "derivedFrom": [{"type": "ImagingStudy", "identifier": {
            "system": "urn:dicom:uid", "value": f"urn:oid:{v.study_uid}"}}],
        "note": [{"authorString": v.author, "text": where}],
    }
    if v.kind is AnnotationKind.MEASUREMENT and v.value is not None:
        resource["valueQuantity"] = {"value": v.value, "unit": v.unit, "system": UCUM,
                                     "code": v.unit}
    elif v.text:
        resource["valueString"] = v.text
    return resource


def _stored_version(document: dict[str, Any]) -> int:
    for identifier in document.get("identifier", []):
        if identifier.get("system") == VERSION_SYSTEM and str(identifier.get("value")).isdigit():
            return int(identifier["value"])
    return 0


class AnnotationObservations:
    def __init__(self, store: ImagingStore, fhir: FhirUseCases) -> None:
        self._store = store
        self._fhir = fhir

    async def deliver(self, message: OutboxMessage) -> None:
        ids = sorted({str(annotation_id) for annotation_id, _ in message.payload["versions"]})
        latest = await self._store.latest_versions(ids)
        for annotation_id in ids:
            if annotation_id not in latest:
                raise PermanentDeliveryError(f"annotation {annotation_id} is gone")
            version = await self._store.get_version(annotation_id, latest[annotation_id][0])
            if version is None:
                raise PermanentDeliveryError(f"annotation {annotation_id} is gone")
            await self._write(version)

    async def _write(self, v: AnnotationVersion) -> None:
        # On behalf of the annotation's author, who had the clinician role when annotating.
        caller = Caller(Principal(subject=v.author, roles=frozenset({Role.CLINICIAN.value})),
                        surface="outbox", purpose=f"imaging annotation {v.annotation_id}")
        resource_id = observation_id(v.annotation_id)
        try:
            current = await self._fhir.read(caller, "Observation", resource_id)
            if _stored_version(current.document) >= v.version:
                return  # written already (a retry), or a later version is there
        except FhirProblem as exc:
            if exc.status not in (404, 410):
                raise
        try:
            await self._fhir.update(caller, "Observation", resource_id, observation(v))
        except FhirProblem as exc:
            if exc.status in (400, 422):  # the resource itself is refused: retrying cannot help
                raise PermanentDeliveryError(exc.message) from None
            raise
