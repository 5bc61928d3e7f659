"""ORU^R01 to FHIR R4, after the HL7 v2-to-FHIR IG (standards digest section 4.3).

Each OBR becomes a DiagnosticReport and each OBX an Observation listed in its result. Every
resource carries a stable business identifier derived from the sender, the filler order
number and the OBX code, so a corrected result (OBX-11 C) finds and replaces its original.
What the parser assumed for a result the lab left incomplete (``ObservationSegment.assumptions``)
is stored as a note on its Observation, so nobody takes an assumption for what the lab said.
"""

from __future__ import annotations

import re
from typing import Any

from resolvers.labs.oru import ObservationSegment, OrderSegment, OruMessage

CODE_SYSTEMS = {"LN": "http://loinc.org", "LOINC": "http://loinc.org",
                "SCT": "http://snomed.info/sct", "SNM": "http://snomed.info/sct",
                "UCUM": "http://unitsofmeasure.org", "I10": "http://hl7.org/fhir/sid/icd-10"}
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ASSUMPTION_NOTE = "Gateway assumption: "  # prefix of the notes that record a parser assumption
OBX_STATUS = {"F": "final", "P": "preliminary", "C": "corrected", "A": "amended",
              "D": "entered-in-error", "W": "entered-in-error", "X": "cancelled",
              "U": "final", "R": "preliminary", "S": "preliminary", "I": "registered",
              "O": "registered", "N": "cancelled"}
OBR_STATUS = {"F": "final", "P": "preliminary", "C": "corrected", "R": "partial",
              "X": "cancelled", "O": "registered", "I": "registered", "S": "registered",
              "A": "partial", "Y": "final", "Z": "final"}
_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*$")
_NUMBER = re.compile(r"^\s*[-+]?\d+(?:\.\d+)?\s*$")


def system_uri(code_system: str) -> str:
    return CODE_SYSTEMS.get(code_system.upper(), f"urn:cari:hl7-coding:{code_system or 'local'}")


def _fhir_code(raw: str) -> str:
    r"""A FHIR `code` from what a sender wrote: no padding and single inner spaces.

    FHIR codes match `[^\s]+(\s[^\s]+)*`; senders pad CE components and some LIS exports
    put two spaces inside local codes ("GLU  F"). Collapsing keeps the code readable and
    matchable, where refusing it would lose the result.
    """
    return " ".join(raw.split())


def _concept(code: str, text: str, system: str) -> dict[str, Any]:
    # FHIR codes and strings may not be blank or padded; senders pad CE components.
    code, text = _fhir_code(code), text.strip()
    concept: dict[str, Any] = {}
    if code:
        coding: dict[str, Any] = {"system": system_uri(system), "code": code}
        if text:
            coding["display"] = text
        concept["coding"] = [coding]
    if text:
        concept["text"] = text
    return concept or {"text": "unknown"}


def _quantity(number: str, units: str, units_system: str) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": float(number) if "." in number else int(number)}
    code = _fhir_code(units)
    if code:
        quantity["unit"] = units.strip()
        if units_system.upper() in ("UCUM", "") or not units_system:
            quantity["system"] = "http://unitsofmeasure.org"
            quantity["code"] = code
    return quantity


def numeric_value(obx: ObservationSegment) -> float | None:
    """The number an OBX carries (NM, or SN without a ratio), for the critical-value rule."""
    if not obx.values:
        return None
    raw = obx.values[0]
    if obx.value_type == "NM" and _NUMBER.match(raw):
        return float(raw)
    if obx.value_type == "SN":
        parts = raw.split("^")
        if len(parts) >= 2 and _NUMBER.match(parts[1]) and len(parts) < 3:
            return float(parts[1])
    return None


def _value(obx: ObservationSegment) -> dict[str, Any]:
    if not obx.values or not obx.values[0].strip():  # FHIR strings need a non-blank character
        return {"dataAbsentReason": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
            "code": "unknown"}]}}
    raw = obx.values[0]
    kind = obx.value_type.upper()
    if kind == "NM" and _NUMBER.match(raw):
        return {"valueQuantity": _quantity(raw.strip(), obx.units, obx.units_system)}
    if kind == "SN":
        parts = [*raw.split("^"), "", "", "", ""][:4]
        comparator, num1, separator, num2 = (p.strip() for p in parts)
        if separator in (":", "/") and _NUMBER.match(num1) and _NUMBER.match(num2):
            return {"valueRatio": {"numerator": {"value": float(num1)},
                                   "denominator": {"value": float(num2)}}}
        if separator == "-" and _NUMBER.match(num1) and _NUMBER.match(num2):
            return {"valueRange": {"low": _quantity(num1, obx.units, obx.units_system),
                                   "high": _quantity(num2, obx.units, obx.units_system)}}
        if _NUMBER.match(num1):
            quantity = _quantity(num1, obx.units, obx.units_system)
            if comparator in ("<", "<=", ">", ">="):
                quantity["comparator"] = comparator
            return {"valueQuantity": quantity}
    if kind in ("CE", "CWE", "CNE"):
        parts = [*raw.split("^"), "", "", ""][:3]
        return {"valueCodeableConcept": _concept(parts[0], parts[1], parts[2])}
    return {"valueString": "\n".join(v for v in obx.values if v.strip())}


def _reference_range(text: str) -> list[dict[str, Any]]:
    if not text:
        return []
    found = _RANGE.match(text)
    if found:
        return [{"low": {"value": float(found.group(1))}, "high": {"value": float(found.group(2))},
                 "text": text}]
    return [{"text": text}]


def observation_identifier(message: OruMessage, order: OrderSegment,
                           obx: ObservationSegment) -> dict[str, str]:
    facility = message.header.sending_facility or message.header.sending_application
    order_number = order.filler_number or order.placer_number or message.header.control_id
    return {"system": f"urn:cari:lab:{facility}:result",
            "value": f"{order_number}|{obx.code}|{obx.sub_id or obx.set_id}"}


def report_identifier(message: OruMessage, order: OrderSegment) -> dict[str, str]:
    facility = message.header.sending_facility or message.header.sending_application
    return {"system": f"urn:cari:lab:{facility}:report",
            "value": order.filler_number or order.placer_number
            or f"{message.header.control_id}|{order.set_id}"}


def observation_resource(message: OruMessage, order: OrderSegment, obx: ObservationSegment,
                         patient_ref: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [observation_identifier(message, order, obx)],
        "status": OBX_STATUS.get(obx.status.upper(), "final"),
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory"}]}],
        "code": _concept(obx.code, obx.code_text, obx.code_system),
        **_value(obx),
    }
    if patient_ref:
        resource["subject"] = {"reference": patient_ref}
    when = obx.observed_at_iso or order.observed_at_iso
    if when:
        resource["effectiveDateTime"] = when
    if obx.reference_range:
        resource["referenceRange"] = _reference_range(obx.reference_range)
    flags = [f for f in obx.abnormal_flags if f]
    if flags:
        resource["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": f}]}
                                      for f in flags]
    if obx.notes or obx.assumptions:
        resource["note"] = [*({"text": n} for n in obx.notes),
                            *({"text": ASSUMPTION_NOTE + a} for a in obx.assumptions)]
    return resource


def report_resource(message: OruMessage, order: OrderSegment, patient_ref: str | None,
                    observation_refs: list[str]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "identifier": [report_identifier(message, order)],
        "status": OBR_STATUS.get(order.status.upper(), "final"),
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                  "code": "LAB"}]}],
        "code": _concept(order.code, order.code_text, order.code_system),
        "result": [{"reference": r} for r in observation_refs],
    }
    if patient_ref:
        resource["subject"] = {"reference": patient_ref}
    if order.observed_at_iso:
        resource["effectiveDateTime"] = order.observed_at_iso
    if order.notes:
        resource["conclusion"] = "\n".join(order.notes)
    return resource
