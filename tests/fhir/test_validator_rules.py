"""Layer 2: the gateway's rules (resolvers/fhir/rules.py), alone and through the validator."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.fhir.validator import FhirValidator
from resolvers.fhir import rules
from resolvers.fhir.issues import Issue

SUBJECT = {"reference": "Patient/p1"}
CONCEPT = {"text": "glucose"}


def _found(issues: list[Issue]) -> set[tuple[str, str | None]]:
    return {(i.code, i.expression) for i in issues}


# ------------------------------------------------------------------ Patient


@pytest.mark.parametrize("patient", [
    {"resourceType": "Patient", "id": "p1"},
    {"resourceType": "Patient", "identifier": [{"system": "urn:ke:nid", "value": "1234"}]},
    {"resourceType": "Patient", "identifier": [{"system": "x"}, {"value": "1234"}]},
])
def test_a_patient_with_an_id_or_an_identifier_passes(patient: dict[str, Any]) -> None:
    assert rules.patient_identity(patient, "Patient") == []


@pytest.mark.parametrize("patient", [
    {"resourceType": "Patient"},
    {"resourceType": "Patient", "id": ""},
    {"resourceType": "Patient", "identifier": []},
    {"resourceType": "Patient", "identifier": [{"system": "urn:ke:nid"}]},  # no value
    {"resourceType": "Patient", "identifier": "1234"},  # wrong shape: reported by layer 1
])
def test_a_patient_needs_an_id_or_an_identifier_with_a_value(patient: dict[str, Any]) -> None:
    issues = rules.patient_identity(patient, "Bundle.entry[0].resource")
    assert _found(issues) == {("required", "Bundle.entry[0].resource.identifier")}
    assert issues[0].severity == "error" and "id or an identifier" in issues[0].diagnostics


# ------------------------------------------------------------------ Encounter


def test_an_encounter_needs_status_and_class() -> None:
    ok = {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}}
    assert rules.encounter_status_and_class(ok, "Encounter") == []
    assert _found(rules.encounter_status_and_class({"resourceType": "Encounter"}, "Encounter")) \
        == {("required", "Encounter.status"), ("required", "Encounter.class")}
    only_extension = {**ok, "_status": {"extension": [{"url": "u", "valueCode": "masked"}]}}
    del only_extension["status"]
    assert _found(rules.encounter_status_and_class(only_extension, "Encounter")) == {
        ("required", "Encounter.status")}
    assert _found(rules.encounter_status_and_class({**ok, "class": {}}, "Encounter")) == {
        ("required", "Encounter.class")}


# ------------------------------------------------------------------ Observation


@pytest.mark.parametrize("missing", ["status", "code", "subject"])
def test_an_observation_needs_status_code_and_subject(missing: str) -> None:
    obs = {"resourceType": "Observation", "status": "final", "code": CONCEPT, "subject": SUBJECT}
    assert rules.observation_status_code_subject(obs, "Observation") == []
    del obs[missing]
    assert _found(rules.observation_status_code_subject(obs, "Observation")) == {
        ("required", f"Observation.{missing}")}


def test_an_empty_subject_is_missing() -> None:
    obs = {"resourceType": "Observation", "status": "final", "code": CONCEPT, "subject": {}}
    assert _found(rules.observation_status_code_subject(obs, "Observation")) == {
        ("required", "Observation.subject")}


# ------------------------------------------------------------------ MedicationRequest


def _medication_request(**changes: Any) -> dict[str, Any]:
    request = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
               "subject": SUBJECT, "medicationCodeableConcept": CONCEPT}
    request.update(changes)
    return {k: v for k, v in request.items() if v is not None}


@pytest.mark.parametrize("medication", [
    {"medicationCodeableConcept": CONCEPT},
    {"medicationCodeableConcept": None, "medicationReference": {"reference": "Medication/m1"}},
])
def test_a_medication_request_with_a_medication_passes(medication: dict[str, Any]) -> None:
    assert rules.medication_request_essentials(_medication_request(**medication),
                                               "MedicationRequest") == []


@pytest.mark.parametrize("missing", ["status", "intent", "subject"])
def test_a_medication_request_needs_status_intent_and_subject(missing: str) -> None:
    issues = rules.medication_request_essentials(_medication_request(**{missing: None}),
                                                 "MedicationRequest")
    assert _found(issues) == {("required", f"MedicationRequest.{missing}")}


@pytest.mark.parametrize("medication", [
    {"medicationCodeableConcept": None},
    {"medicationCodeableConcept": {}},
    {"medicationCodeableConcept": None, "medicationReference": {}},
])
def test_a_medication_request_needs_a_medication(medication: dict[str, Any]) -> None:
    issues = rules.medication_request_essentials(_medication_request(**medication),
                                                 "MedicationRequest")
    assert _found(issues) == {("required", "MedicationRequest.medication")}
    assert "medicationCodeableConcept or medicationReference" in issues[0].diagnostics


# ------------------------------------------------------------------ Condition, AllergyIntolerance


@pytest.mark.parametrize("missing", ["code", "subject"])
def test_a_condition_needs_code_and_subject(missing: str) -> None:
    condition = {"resourceType": "Condition", "code": CONCEPT, "subject": SUBJECT}
    assert rules.condition_code_subject(condition, "Condition") == []
    del condition[missing]
    assert _found(rules.condition_code_subject(condition, "Condition")) == {
        ("required", f"Condition.{missing}")}


def test_an_allergy_needs_a_patient() -> None:
    assert rules.allergy_patient({"resourceType": "AllergyIntolerance", "patient": SUBJECT},
                                 "AllergyIntolerance") == []
    assert _found(rules.allergy_patient({"resourceType": "AllergyIntolerance"},
                                        "AllergyIntolerance")) == {
        ("required", "AllergyIntolerance.patient")}


# ------------------------------------------------------------------ Bundle


@pytest.mark.parametrize("status", ["booked", "pending", "arrived", "fulfilled", "noshow"])
def test_an_appointment_needs_start_and_end_unless_proposed_cancelled_or_waitlisted(
        status: str) -> None:
    assert _found(rules.appointment_times({"status": status}, "Appointment")) == {
        ("required", "Appointment.start"), ("required", "Appointment.end")}
    for open_status in ("proposed", "cancelled", "waitlist"):
        assert rules.appointment_times({"status": open_status}, "Appointment") == []
    timed = {"status": status, "start": "2026-12-10T09:00:00Z", "end": "2026-12-10T09:30:00Z"}
    assert rules.appointment_times(timed, "Appointment") == []


def test_a_bundle_needs_a_type() -> None:
    assert rules.bundle_type({"resourceType": "Bundle", "type": "collection"}, "Bundle") == []
    assert _found(rules.bundle_type({"resourceType": "Bundle"}, "Bundle")) == {
        ("required", "Bundle.type")}


@pytest.mark.parametrize(("kind", "needed"), [
    ("transaction", "request"), ("batch", "request"),
    ("transaction-response", "response"), ("batch-response", "response")])
def test_transaction_and_batch_entries_need_a_request_or_response(kind: str, needed: str) -> None:
    bundle = {"resourceType": "Bundle", "type": kind, "entry": [
        {needed: {"method": "GET", "url": "Patient/1"} if needed == "request"
         else {"status": "200"}}, {"fullUrl": "urn:uuid:x"}, "junk"]}
    issues = rules.bundle_entry_requests(bundle, "Bundle")
    assert _found(issues) == {("invalid", f"Bundle.entry[1].{needed}")}


def test_other_bundles_need_no_request() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "x"}]}
    assert rules.bundle_entry_requests(bundle, "Bundle") == []
    assert rules.bundle_entry_requests({"resourceType": "Bundle", "type": "batch"}, "Bundle") == []


# ------------------------------------------------------------------ dispatch


def test_check_dispatches_on_the_resource_type() -> None:
    assert _found(rules.check({"resourceType": "Observation"})) == {
        ("required", "Observation.status"), ("required", "Observation.code"),
        ("required", "Observation.subject")}
    assert _found(rules.check({"resourceType": "Condition"}, "Bundle.entry[3].resource")) == {
        ("required", "Bundle.entry[3].resource.code"),
        ("required", "Bundle.entry[3].resource.subject")}
    assert rules.check({"resourceType": "Practitioner"}) == []
    assert rules.check({"resourceType": 7}) == []
    assert rules.check({}) == []


def test_every_rule_is_registered_for_its_type() -> None:
    assert set(rules.RULES) == {"Patient", "Encounter", "Observation", "MedicationRequest",
                                "Condition", "AllergyIntolerance", "Appointment", "Bundle"}


# ------------------------------------------------------------------ through the validator


def test_rules_run_after_the_structure_and_do_not_repeat_it() -> None:
    issues = FhirValidator().validate({"resourceType": "Encounter", "class": {"code": "AMB"}})
    # R4 requires Encounter.status too: reported once, by the structural layer
    assert [(i.code, i.expression) for i in issues] == [("required", "Encounter.status")]


def test_an_extension_satisfies_r4_but_not_the_rule() -> None:
    obs = {"resourceType": "Observation", "code": CONCEPT, "subject": SUBJECT,
           "_status": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/"
                                             "data-absent-reason", "valueCode": "unknown"}]}}
    assert FhirValidator(rules=False).validate(obs) == []
    assert _found(FhirValidator().validate(obs)) == {("required", "Observation.status")}


def test_rules_apply_to_bundle_entries_at_their_path() -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "Otieno"}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": CONCEPT}}]}
    assert _found(FhirValidator().validate(bundle)) == {
        ("required", "Bundle.entry[0].resource.identifier"),
        ("required", "Bundle.entry[1].resource.subject"),
        ("invalid", "Bundle.entry[1].request")}
    assert FhirValidator(rules=False).validate(bundle) == []


def test_rules_see_the_path_given_by_the_caller() -> None:
    issues = FhirValidator().validate({"resourceType": "Observation", "status": "final",
                                       "code": CONCEPT}, path="Bundle.entry[4].resource")
    assert _found(issues) == {("required", "Bundle.entry[4].resource.subject")}
