"""subject_of_stored_view: the subject reference a stored lab view stands for, or None
where the document must say (search pages on SQLite take it from the view)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.fhir.lab_views import stored_lab_view, subject_of_stored_view
from resolvers.fhir.search_params import patient_reference


def _observation(reference: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"resourceType": "Observation", "status": "final",
                           "code": {"coding": [{"system": "http://loinc.org",
                                                "code": "2823-3"}]},
                           "valueQuantity": {"value": 4.1, "unit": "mmol/L"}}
    if reference is not None:
        doc["subject"] = {"reference": reference}
    return doc


@pytest.mark.parametrize("reference", ["Patient/p1", "Patient/p1/_history/2",
                                       "Patient/01a2535d-2845-709e-b049-c4ed091d3fb2"])
def test_a_patient_subject_is_given_back_as_written(reference: str) -> None:
    stored = stored_lab_view("Observation", "o1", 3, _observation(reference))
    assert stored is not None
    assert subject_of_stored_view("o1", 3, stored) == reference
    assert patient_reference(subject_of_stored_view("o1", 3, stored)) == \
        patient_reference(reference)


@pytest.mark.parametrize("reference", [None, "Group/g1",
                                       "https://fhir.example.org/Patient/p1"])
def test_other_subjects_are_left_to_the_document(reference: str | None) -> None:
    stored = stored_lab_view("Observation", "o1", 3, _observation(reference))
    assert stored is not None
    assert subject_of_stored_view("o1", 3, stored) is None


def test_a_view_its_row_does_not_vouch_for_is_not_trusted() -> None:
    stored = stored_lab_view("Observation", "o1", 3, _observation("Patient/p1"))
    assert stored is not None
    assert subject_of_stored_view("o1", 4, stored) is None  # another version
    assert subject_of_stored_view("o2", 3, stored) is None  # another resource
    assert subject_of_stored_view("o1", 3, "{not json") is None
    assert subject_of_stored_view("o1", 3, '{"id": "o1"}') is None
