"""Stored Observation texts decoded straight into lab views (resolvers.labs.ports.LabViewDecoder).

A lab-results read shows about a tenth of each Observation it returns. Decoding the whole
document into dicts and then picking the fields out was a third of the read's time; msgspec
decodes the text into typed structs of only the elements a view shows and skips the rest
without building it. The documents were validated as FHIR R4 when stored, so the types
hold; one that does not fit (a document written by an older build, say) is decoded the
general way, so the answer is the same either way (tests/labs/test_lab_view_decoder.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from pydantic_core import from_json

from resolvers.labs.view import LabResultView


class _Coding(msgspec.Struct, gc=False):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class _Concept(msgspec.Struct, gc=False):
    coding: list[_Coding] = []
    text: str | None = None


class _Quantity(msgspec.Struct, gc=False):
    value: int | float | None = None
    comparator: str | None = None
    unit: str | None = None


class _Reference(msgspec.Struct, gc=False):
    reference: str | None = None


class _Range(msgspec.Struct, gc=False):
    text: str | None = None


class _Observation(msgspec.Struct, gc=False):
    status: str | None = None
    code: _Concept | None = None
    subject: _Reference | None = None
    effectiveDateTime: str | None = None  # FHIR element names, as stored
    valueQuantity: _Quantity | None = None
    valueString: str | None = None
    valueCodeableConcept: _Concept | None = None
    interpretation: list[_Concept] = []
    referenceRange: list[_Range] = []


_DECODER = msgspec.json.Decoder(_Observation)
_NO_CODING = _Coding()


def _value(obs: _Observation) -> str | None:
    # The order of LabResultView.from_document: quantity, then string, then concept.
    if obs.valueQuantity is not None:
        return f"{obs.valueQuantity.comparator or ''}{obs.valueQuantity.value}"
    if obs.valueString is not None:
        return obs.valueString
    if obs.valueCodeableConcept is not None:
        concept = obs.valueCodeableConcept
        return concept.text or (concept.coding[0] if concept.coding else _NO_CODING).code
    return None


def _view(resource_id: str, version: int, obs: _Observation) -> LabResultView:
    coding = obs.code.coding[0] if obs.code is not None and obs.code.coding else _NO_CODING
    reference = obs.subject.reference if obs.subject is not None else None
    number = obs.valueQuantity.value if obs.valueQuantity is not None else None
    return LabResultView(
        id=resource_id,
        patient_id=reference[8:] if reference and reference.startswith("Patient/") else None,
        code=coding.code, code_system=coding.system,
        display=coding.display or (obs.code.text if obs.code is not None else None),
        value=_value(obs),
        numeric_value=float(number) if number is not None else None,
        unit=obs.valueQuantity.unit if obs.valueQuantity is not None else None,
        interpretation=tuple(c.code for i in obs.interpretation for c in i.coding if c.code),
        reference_range=obs.referenceRange[0].text if obs.referenceRange else None,
        status=str(obs.status), effective=obs.effectiveDateTime, version=version)


def decode_lab_views(rows: Sequence[tuple[str, int, str]]) -> list[LabResultView]:
    views: list[LabResultView] = []
    for resource_id, version, text in rows:
        try:
            views.append(_view(resource_id, version, _DECODER.decode(text)))
        except msgspec.ValidationError:
            views.append(LabResultView.from_document(resource_id, version, from_json(text)))
    return views
