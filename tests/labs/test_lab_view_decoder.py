"""The msgspec lab-view decoder gives exactly the views the general path gives.

Reads decode stored Observation texts with ``adapters.fhir.lab_views.decode_lab_views``
when the store hands over texts, and with ``LabResultView.from_document`` otherwise; an
answer must not depend on which. Checked over every Observation the lab mapping builds
from generated OBX segments (the same strategy as the FHIR validity test), and over the
shapes other writers store (FHIR REST creates: no subject, a concept without text, odd
numbers, a document that does not fit the typed structs). The view a write stores beside
the document (``stored_lab_view``) must read back as the same view, and a stored view the
row's id and version do not vouch for is not used.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.fhir.lab_views import decode_lab_views, stored_lab_view
from resolvers.labs.view import LabResultView
from tests.hl7v2 import messages
from tests.labs.test_fhir_mapping_is_valid import _resources, obx_segments


def _both(doc: dict[str, Any], version: int = 3) -> tuple[LabResultView, LabResultView]:
    """The view read from the document text, checked against the one read from the view a
    write stores beside it, and the general path's."""
    text = json.dumps(doc)
    fast = decode_lab_views([("obs-1", version, text, None)])[0]
    stored = stored_lab_view("Observation", "obs-1", version, json.loads(text))
    assert stored is not None
    from_stored = decode_lab_views([("obs-1", version, text, stored)])[0]
    general = LabResultView.from_document("obs-1", version, json.loads(text))
    assert from_stored == general
    return fast, general


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4).flatmap(
    lambda ns: st.tuples(*(obx_segments(n) for n in ns))))
def test_the_mapped_observations_decode_to_the_same_views(segments: tuple[str, ...]) -> None:
    head = messages.WORKED_EXAMPLE.split("\rOBX|", 1)[0]
    for doc in _resources(head + "\r" + "\r".join(segments)):
        if doc["resourceType"] == "Observation":
            fast, general = _both(doc)
            assert fast == general


@pytest.mark.parametrize("doc", [
    {"resourceType": "Observation", "status": "final",
     "code": {"text": "Glucose"}, "valueQuantity": {"value": 5}},
    {"resourceType": "Observation", "status": "amended",
     "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
     "subject": {"reference": "Group/g1"}, "valueCodeableConcept": {
         "coding": [{"system": "http://snomed.info/sct", "code": "10828004"}]}},
    {"resourceType": "Observation", "status": "final", "code": {"coding": []},
     "subject": {"reference": "Patient/p-1"}, "valueString": "Growth of E. coli",
     "interpretation": [{"text": "abnormal"}, {"coding": [{"code": "A"}, {"system": "x"}]}],
     "referenceRange": [{"low": {"value": 1}}, {"text": "second"}],
     "effectiveDateTime": "2026-01-15"},
    {"resourceType": "Observation", "status": "final", "code": {"text": "K"},
     "valueQuantity": {"value": 1.5e-7, "comparator": "<", "unit": "mmol/L"}},
    {"resourceType": "Observation", "code": {"text": "no status, no value"}},
    # A document the typed structs do not fit (a number where FHIR has a string): the
    # general path decodes it, so the answer is the same, not an error.
    {"resourceType": "Observation", "status": 7, "code": {"text": "odd"},
     "valueQuantity": {"value": True}},
])
def test_other_writers_shapes_decode_to_the_same_views(doc: dict[str, Any]) -> None:
    fast, general = _both(doc)
    assert fast == general


def test_a_view_carries_the_id_and_version_it_was_read_with() -> None:
    doc = {"resourceType": "Observation", "status": "final", "code": {"text": "Na"},
           "subject": {"reference": "Patient/p-9"}, "valueQuantity": {"value": 140}}
    fast = decode_lab_views([("obs-7", 4, json.dumps(doc), None)])[0]
    assert (fast.id, fast.version, fast.patient_id, fast.value, fast.numeric_value) == (
        "obs-7", 4, "p-9", "140", 140.0)


_NA = {"resourceType": "Observation", "status": "final", "code": {"text": "Na"},
       "subject": {"reference": "Patient/p-9"}, "valueQuantity": {"value": 140}}


def test_a_stored_view_is_what_the_read_answers() -> None:
    # The document says 140; a stored view (of the same id and version) saying otherwise
    # shows that the read took the stored view and did not decode the document.
    stored = stored_lab_view("Observation", "obs-7", 4, {**_NA, "valueQuantity": {"value": 141}})
    assert stored is not None
    view = decode_lab_views([("obs-7", 4, json.dumps(_NA), stored)])[0]
    assert (view.value, view.numeric_value) == ("141", 141.0)


@pytest.mark.parametrize("stored", [
    stored_lab_view("Observation", "obs-7", 3, {**_NA, "valueQuantity": {"value": 1}}),
    stored_lab_view("Observation", "obs-other", 4, {**_NA, "valueQuantity": {"value": 1}}),
    '{"id": "obs-7", "version": 4}',  # fields missing: a view of another build
    '{"id": "obs-7", "version": 4, "status": ',  # cut short
    "[]",
], ids=["older-version", "other-id", "missing-fields", "truncated", "not-an-object"])
def test_a_stored_view_the_row_does_not_vouch_for_is_not_used(stored: str | None) -> None:
    assert stored is not None
    view = decode_lab_views([("obs-7", 4, json.dumps(_NA), stored)])[0]
    assert view == LabResultView.from_document("obs-7", 4, _NA)
    assert view.value == "140"


def test_only_observations_keep_a_view() -> None:
    assert stored_lab_view("Patient", "p-1", 1, {"resourceType": "Patient"}) is None
    assert stored_lab_view("Observation", "o-1", 1, _NA) is not None
    # Not FHIR (the store takes what its callers validated): stored without a view.
    assert stored_lab_view("Observation", "o-1", 1, {"code": "0"}) is None
    assert stored_lab_view("Observation", "o-1", 1, {"code": {"coding": [7]}}) is None
