"""A laboratory Observation flattened for REST and GraphQL, built from its FHIR document.

``LabResultView.of`` reads a decoded document; a store may instead decode the stored JSON
text straight into views (resolvers.labs.ports.LabViewDecoder), which must give the same
views (tests/labs/test_lab_view_decoder.py holds them to it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resolvers.fhir.model import StoredResource


@dataclass(slots=True)
class LabResultView:
    """One laboratory Observation, flattened for REST and GraphQL.

    Not frozen: a frozen dataclass sets each of its 13 fields through object.__setattr__,
    which cost a microsecond per result, and lab-result reads build twenty per request.
    Nothing mutates a view after it is built. Slotted: built from positional arguments,
    half the time of the keyword-built dict-backed one. REST writes views as they are
    (msgspec encodes a dataclass's fields in order, which is LabResultItem's)."""

    id: str
    patient_id: str | None
    code: str | None
    code_system: str | None
    display: str | None
    value: str | None
    numeric_value: float | None
    unit: str | None
    interpretation: tuple[str, ...]
    reference_range: str | None
    status: str
    effective: str | None
    version: int

    @classmethod
    def of(cls, stored: StoredResource) -> LabResultView:
        return cls.from_document(stored.id, stored.version, stored.document)

    @classmethod
    def from_document(cls, resource_id: str, version: int,
                      doc: dict[str, Any]) -> LabResultView:
        coding = ((doc.get("code") or {}).get("coding") or [{}])[0]
        quantity = doc.get("valueQuantity") or {}
        number = quantity.get("value")
        if "valueQuantity" in doc:
            value = f"{quantity.get('comparator', '')}{number}"
        elif "valueString" in doc:
            value = str(doc["valueString"])
        elif "valueCodeableConcept" in doc:
            concept = doc["valueCodeableConcept"]
            value = concept.get("text") or ((concept.get("coding") or [{}])[0]).get("code")
        else:
            value = None
        subject = (doc.get("subject") or {}).get("reference", "")
        ranges = doc.get("referenceRange") or []
        return cls(
            id=resource_id, patient_id=subject.split("/", 1)[1] if subject.startswith("Patient/")
            else None, code=coding.get("code"), code_system=coding.get("system"),
            display=coding.get("display") or (doc.get("code") or {}).get("text"),
            value=value, numeric_value=float(number) if isinstance(number, int | float) else None,
            unit=quantity.get("unit"),
            interpretation=tuple(c.get("code") for i in doc.get("interpretation") or []
                                 for c in i.get("coding") or [] if c.get("code")),
            reference_range=ranges[0].get("text") if ranges else None,
            status=str(doc.get("status")), effective=doc.get("effectiveDateTime"),
            version=version)
