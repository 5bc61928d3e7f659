"""ORU^R01 -> FHIR mapping, on parsed messages built by hand (the parser has its own tests)."""

from __future__ import annotations

from adapters.fhir.validator import FhirValidator
from resolvers.labs.oru import (
    Header,
    ObservationSegment,
    OrderSegment,
    OruMessage,
    PatientIdentifier,
    PatientSegment,
)
from resolvers.labs.to_fhir import numeric_value, observation_resource, report_resource


def _obx(value_type: str, values: tuple[str, ...], **over: object) -> ObservationSegment:
    base = dict(set_id="1", value_type=value_type, code="2823-3", code_text="Potassium",
                code_system="LN", sub_id="", values=values, units="mmol/L", units_system="UCUM",
                reference_range="3.5-5.1", abnormal_flags=("HH",), status="F",
                observed_at="20260115071500", observed_at_iso="2026-01-15T07:15:00+03:00",
                notes=("Not hemolysed",))
    base.update(over)
    return ObservationSegment(**base)  # type: ignore[arg-type]


MESSAGE = OruMessage(
    header=Header("LABSYS", "CENTRAL_LAB", "GATEWAY", "DISTRICT_HOSP", "20260115083000+0300",
                  "ORU^R01", "LAB000123", "P", "2.5", "AL", "NE"),
    patient=PatientSegment((PatientIdentifier("MRN4455", "DISTRICT_HOSP", "2.16.840.1.113883.19.5",
                                              "ISO", "MR"),), "ODHIAMBO", ("GRACE", "A"),
                           "19850412", "1985-04-12", "F"),
    orders=(),
)
ORDER = OrderSegment("1", "PLC881", "FIL552", "24323-8", "Comprehensive metabolic panel", "LN",
                     "20260115071500", "2026-01-15T07:15:00+03:00", "F", "", ())


def test_numeric_observation_maps_to_valid_fhir() -> None:
    obs = observation_resource(MESSAGE, ORDER, _obx("NM", ("6.9",)), "Patient/p-1")
    assert obs["valueQuantity"] == {"value": 6.9, "unit": "mmol/L",
                                    "system": "http://unitsofmeasure.org", "code": "mmol/L"}
    assert obs["code"]["coding"][0] == {"system": "http://loinc.org", "code": "2823-3",
                                        "display": "Potassium"}
    assert obs["interpretation"][0]["coding"][0]["code"] == "HH"
    assert obs["referenceRange"][0]["low"] == {"value": 3.5}
    assert obs["identifier"][0] == {"system": "urn:cari:lab:CENTRAL_LAB:result",
                                    "value": "FIL552|2823-3|1"}
    assert obs["status"] == "final" and obs["note"] == [{"text": "Not hemolysed"}]
    assert FhirValidator().validate(obs) == []


def test_structured_numeric_coded_and_text_values() -> None:
    sn = observation_resource(MESSAGE, ORDER, _obx("SN", (">^900",), units="pg/mL"), "Patient/p")
    assert sn["valueQuantity"]["comparator"] == ">" and sn["valueQuantity"]["value"] == 900
    ratio = observation_resource(MESSAGE, ORDER, _obx("SN", ("^1^:^128",)), "Patient/p")
    assert ratio["valueRatio"]["denominator"] == {"value": 128.0}
    coded = observation_resource(MESSAGE, ORDER, _obx("CWE", ("260385009^Negative^SCT",)), None)
    assert coded["valueCodeableConcept"]["coding"][0]["system"] == "http://snomed.info/sct"
    text = observation_resource(MESSAGE, ORDER, _obx("TX", ("line one", "line two")), None)
    assert text["valueString"] == "line one\nline two"
    corrected = observation_resource(MESSAGE, ORDER, _obx("NM", ("5.0",), status="C"), None)
    assert corrected["status"] == "corrected"
    for resource in (sn, ratio, coded, text):
        assert [i for i in FhirValidator(rules=False).validate(resource)
                if i.severity == "error"] == []


def test_numeric_value_for_critical_rules() -> None:
    assert numeric_value(_obx("NM", ("6.9",))) == 6.9
    assert numeric_value(_obx("SN", ("<^2.1",))) == 2.1
    assert numeric_value(_obx("SN", ("^1^:^128",))) is None
    assert numeric_value(_obx("ST", ("positive",))) is None


def test_report_lists_its_observations() -> None:
    report = report_resource(MESSAGE, ORDER, "Patient/p-1", ["Observation/o1", "Observation/o2"])
    assert report["result"] == [{"reference": "Observation/o1"}, {"reference": "Observation/o2"}]
    assert report["code"]["coding"][0]["code"] == "24323-8" and report["status"] == "final"
    assert FhirValidator().validate(report) == []
