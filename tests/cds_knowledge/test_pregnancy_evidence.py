"""pregnancy_evidence: Conditions and Observations that show a current pregnancy, and the
ones that must not (refuted, entered in error, abated, resolved, negative, stale)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from resolvers.cds.knowledge import pregnancy_evidence

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def condition(system: str | None, code: str, **extra: Any) -> dict[str, Any]:
    coding: dict[str, Any] = {"code": code}
    if system is not None:
        coding["system"] = system
    return {"resourceType": "Condition", "code": {"coding": [coding]}, **extra}


def status(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def observation(code: str, status_: str = "final", **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": status_,
            "code": {"coding": [{"system": LOINC, "code": code}]}, **value}


def concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def evidence(*resources: dict[str, Any]) -> str | None:
    return pregnancy_evidence(resources, now=NOW)


def test_snomed_pregnancy_condition_active() -> None:
    found = evidence(condition(SCT, "77386006", display="Pregnancy",
                               clinicalStatus=status(CLINICAL, "active")))
    assert found == "Condition 77386006 Pregnancy (SNOMED CT), active"


@pytest.mark.parametrize(("system", "code"), [
    (SCT, "72892002"), (SCT, "47200007"), (None, "77386006"),
    ("http://hl7.org/fhir/sid/icd-10", "Z33"), ("http://hl7.org/fhir/sid/icd-10-cm", "Z34.90"),
    ("http://hl7.org/fhir/sid/icd-10-cm", "Z3A.20"), ("http://hl7.org/fhir/sid/icd-10", "O24.4"),
    ("http://hl7.org/fhir/sid/icd-10-cm", "O9A.119"), (None, "O14.1"),
    ("urn:oid:2.16.840.1.113883.6.96", "77386006"), ("urn:oid:2.16.840.1.113883.6.90", "Z34.00"),
])
def test_pregnancy_conditions(system: str | None, code: str) -> None:
    found = evidence(condition(system, code))
    assert found is not None and found.startswith(f"Condition {code}")
    assert found.endswith("clinical status not given")


@pytest.mark.parametrize(("system", "code"), [
    (SCT, "44054006"),  # diabetes mellitus type 2
    ("http://hl7.org/fhir/sid/icd-10", "O03.9"),  # miscarriage: no longer pregnant
    ("http://hl7.org/fhir/sid/icd-10", "O80"),  # delivery
    ("http://hl7.org/fhir/sid/icd-10", "O86.0"),  # puerperal infection
    ("http://hl7.org/fhir/sid/icd-10", "Z30.0"),  # contraceptive advice
    ("http://loinc.org", "77386006"),  # the right code in the wrong system
])
def test_other_conditions_are_not_pregnancy(system: str, code: str) -> None:
    assert evidence(condition(system, code)) is None


@pytest.mark.parametrize("extra", [
    {"verificationStatus": status(VERIFICATION, "refuted")},
    {"verificationStatus": status(VERIFICATION, "entered-in-error")},
    {"clinicalStatus": status(CLINICAL, "resolved")},
    {"clinicalStatus": status(CLINICAL, "inactive")},
    {"abatementDateTime": "2026-06-01"},
    {"abatementString": "delivered"},
    {"abatementPeriod": {"start": "2026-06-01"}},
])
def test_refuted_abated_or_resolved_conditions_are_ignored(extra: dict[str, Any]) -> None:
    assert evidence(condition(SCT, "77386006", **extra)) is None


def test_an_abatement_date_in_the_future_is_still_ongoing() -> None:
    assert evidence(condition(SCT, "77386006", abatementDateTime="2027-03-01")) is not None


def test_pregnancy_status_observation() -> None:
    found = evidence(observation("82810-3", valueCodeableConcept=concept(SCT, "77386006"),
                                 effectiveDateTime="2026-11-20"))
    assert found == "Observation 82810-3 (LOINC) pregnancy status: pregnant, final"
    assert evidence(observation("11449-6", "amended",
                                valueCodeableConcept=concept(LOINC, "LA15173-0"))) is not None


def test_not_pregnant_status_is_not_evidence() -> None:
    assert evidence(observation("82810-3", valueCodeableConcept=concept(SCT, "60001007"))) is None
    assert evidence(observation("11449-6", valueCodeableConcept=concept(LOINC, "LA26683-5"))) is None


@pytest.mark.parametrize("value", [
    {"valueCodeableConcept": concept(SCT, "10828004")},
    {"valueCodeableConcept": concept(LOINC, "LA6576-8")},
    {"valueString": "Positive"},
    {"interpretation": [concept("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                "POS")]},
])
@pytest.mark.parametrize("code", ["2106-3", "2118-8", "19080-1"])
def test_positive_hcg(code: str, value: dict[str, Any]) -> None:
    assert evidence(observation(code, **value)) == f"Observation {code} (LOINC) hCG: positive, final"


def test_negative_hcg_is_not_evidence() -> None:
    assert evidence(observation("2106-3", valueCodeableConcept=concept(SCT, "260385009"))) is None
    assert evidence(observation("19080-1", valueQuantity={"value": 2, "unit": "m[IU]/mL"})) is None


def test_estimated_delivery_date() -> None:
    assert evidence(observation("11778-8", valueDateTime="2027-04-15")) == \
        "Observation 11778-8 (LOINC) estimated delivery date 2027-04-15, final"
    assert evidence(observation("11778-8", valueDateTime="2026-10-01")) is None  # passed
    assert evidence(observation("11778-8", valueDateTime="2028-06-01")) is None  # too far away


def test_gestational_age() -> None:
    assert evidence(observation("49051-6", valueQuantity={"value": 12, "unit": "wk"})) == \
        "Observation 49051-6 (LOINC) gestational age 12 weeks, final"
    assert evidence(observation("49051-6", valueQuantity={"value": 0})) is None


@pytest.mark.parametrize("status_", ["preliminary", "registered", "cancelled", "entered-in-error"])
def test_observation_status_must_be_final_amended_or_corrected(status_: str) -> None:
    assert evidence(observation("82810-3", status_,
                                valueCodeableConcept=concept(SCT, "77386006"))) is None


def test_an_old_observation_is_not_current_evidence() -> None:
    assert evidence(observation("2106-3", valueString="positive",
                                effectiveDateTime="2025-01-10T08:00:00Z")) is None


def test_shapes_are_read_liberally() -> None:
    no_system = {"resourceType": "Observation", "status": "final",
                 "code": {"coding": [{"code": "82810-3"}]},
                 "valueCodeableConcept": {"coding": [{"code": "77386006"}]}}
    assert evidence(no_system) is not None
    assert evidence({"resourceType": "Condition"}, {"resourceType": "Observation"},
                    {"resourceType": "Patient"}, {"code": "nonsense"}) is None
    assert pregnancy_evidence([]) is None


def test_the_first_evidence_is_returned() -> None:
    found = evidence(condition(SCT, "44054006"),
                     observation("2106-3", valueString="pos"),
                     condition(SCT, "77386006"))
    assert found == "Observation 2106-3 (LOINC) hCG: positive, final"
