"""Is the patient pregnant? Evidence from FHIR Condition and Observation resources.

``pregnancy_evidence(resources)`` returns a short description of the first resource that
shows a current pregnancy, or None. Liberal with shapes (a coding without a system is read
by the shape of its code; the HL7 OIDs of SNOMED CT, LOINC and ICD-10 stand for their URIs;
dates with or without a time), strict with meaning:

**Condition**, with a code that means pregnancy:

* SNOMED CT 77386006 (Pregnancy / patient currently pregnant) and two of its common
  subtypes: 72892002 (Normal pregnancy) and 47200007 (High risk pregnancy);
* ICD-10 / ICD-10-CM: O09-O48 (supervision of high-risk pregnancy; disorders and maternal
  care in pregnancy), O60-O77 (labour and delivery under way), O98, O99, O9A (conditions
  complicating pregnancy), Z33 (pregnant state), Z34 (supervision of normal pregnancy) and
  Z3A (weeks of gestation). O00-O08 (pregnancy with abortive outcome) and O80-O94
  (delivery encounters, the puerperium, sequelae) are deliberately not read as "pregnant
  now".

and ``clinicalStatus`` active, recurrence or relapse (or absent), ``verificationStatus``
not refuted or entered-in-error, and no abatement (an ``abatementDateTime`` in the future
still counts as ongoing).

**Observation** with status final, amended or corrected, effective (if given) within the
last 42 weeks, and:

* LOINC 82810-3 or 11449-6 (pregnancy status) valued Pregnant: SNOMED CT 77386006 or LOINC
  answer LA15173-0;
* LOINC 2106-3, 2118-8 or 19080-1 (hCG) positive: a coded value Positive (SNOMED CT
  10828004, LOINC LA6576-8), a string "positive"/"pos", or the interpretation POS;
* LOINC 11778-8 (delivery date, estimated) in the future, and at most 44 weeks away;
* LOINC 49051-6 (gestational age in weeks) with a value above zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm",
                           "http://hl7.org/fhir/sid/icd-10-who"})
PREGNANCY_SNOMED = {"77386006": "Pregnancy", "72892002": "Normal pregnancy",
                    "47200007": "High risk pregnancy"}
PREGNANT_ANSWERS = frozenset({"77386006", "LA15173-0"})
POSITIVE_ANSWERS = frozenset({"10828004", "LA6576-8"})
STATUS_CODES = frozenset({"82810-3", "11449-6"})
HCG_CODES = frozenset({"2106-3", "2118-8", "19080-1"})
EDD_CODE = "11778-8"
GESTATIONAL_AGE_CODE = "49051-6"
RECENT = timedelta(weeks=42)
LONGEST_PREGNANCY = timedelta(weeks=44)

_ICD10 = re.compile(r"^(?P<chapter>[OZ])(?P<two>[0-9][0-9A-Z])(?:\.?[0-9A-Z]{0,4})?$")
_LOINC = re.compile(r"^[0-9]{1,7}-[0-9]$")


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    if not isinstance(concept, Mapping):
        return []
    codings = concept.get("coding")
    return [c for c in codings if isinstance(c, Mapping)] if isinstance(codings, list) else []


# HL7 OIDs of the same systems, as documents converted from CDA or HL7v2 carry them.
_OID_SYSTEMS = {
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "urn:oid:2.16.840.1.113883.6.1": LOINC,
    "urn:oid:2.16.840.1.113883.6.3": "http://hl7.org/fhir/sid/icd-10",
    "urn:oid:2.16.840.1.113883.6.90": "http://hl7.org/fhir/sid/icd-10-cm",
}


def _code_of(coding: Mapping[str, Any]) -> tuple[str, str]:
    system = str(coding.get("system") or "").strip().rstrip("/")
    return _OID_SYSTEMS.get(system, system), str(coding.get("code") or "").strip()


def _status_code(concept: Any) -> str | None:
    for coding in _codings(concept):
        return _code_of(coding)[1] or None
    return None


def _parse_instant(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        if len(raw) <= 10:  # YYYY, YYYY-MM or YYYY-MM-DD
            parts = [int(p) for p in raw.split("-")] + [1, 1]
            return datetime(parts[0], parts[1], parts[2], tzinfo=UTC)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _icd10_pregnancy(code: str) -> bool:
    match = _ICD10.match(code.upper())
    if match is None:
        return False
    chapter, two = match["chapter"], match["two"]
    if chapter == "Z":
        return two in ("33", "34", "3A")
    if two == "9A":
        return True
    if not two.isdigit():
        return False
    number = int(two)
    return 9 <= number <= 48 or 60 <= number <= 77 or number in (98, 99)


def _condition_code(resource: Mapping[str, Any]) -> str | None:
    for coding in _codings(resource.get("code")):
        system, code = _code_of(coding)
        display = coding.get("display")
        if system in (SNOMED, "") and code in PREGNANCY_SNOMED:
            return f"{code} {display or PREGNANCY_SNOMED[code]} (SNOMED CT)"
        if (system in ICD10_SYSTEMS or (system == "" and _ICD10.match(code.upper()))) \
                and _icd10_pregnancy(code):
            return f"{code}{' ' + str(display) if display else ''} (ICD-10)"
    return None


def _condition_evidence(resource: Mapping[str, Any], now: datetime) -> str | None:
    clinical = _status_code(resource.get("clinicalStatus"))
    if clinical not in (None, "active", "recurrence", "relapse"):
        return None
    if _status_code(resource.get("verificationStatus")) in ("refuted", "entered-in-error"):
        return None
    abatement = [k for k in resource if k.startswith("abatement")]
    if abatement:
        until = _parse_instant(resource.get("abatementDateTime"))
        if abatement != ["abatementDateTime"] or until is None or until <= now:
            return None
    described = _condition_code(resource)
    if described is None:
        return None
    return f"Condition {described}, {clinical or 'clinical status not given'}"


def _answer_codes(resource: Mapping[str, Any]) -> set[str]:
    return {_code_of(c)[1] for c in _codings(resource.get("valueCodeableConcept"))}


def _is_positive(resource: Mapping[str, Any]) -> bool:
    if _answer_codes(resource) & POSITIVE_ANSWERS:
        return True
    value = resource.get("valueString")
    if isinstance(value, str) and value.strip().casefold() in ("positive", "pos"):
        return True
    interpretations = resource.get("interpretation")
    if isinstance(interpretations, list):
        return any(_code_of(c)[1] == "POS" for concept in interpretations for c in _codings(concept))
    return False


def _observation_finding(code: str, resource: Mapping[str, Any], now: datetime) -> str | None:
    if code in STATUS_CODES and _answer_codes(resource) & PREGNANT_ANSWERS:
        return "pregnancy status: pregnant"
    if code in HCG_CODES and _is_positive(resource):
        return "hCG: positive"
    if code == EDD_CODE:
        edd = _parse_instant(resource.get("valueDateTime"))
        if edd is not None and now < edd <= now + LONGEST_PREGNANCY:
            return f"estimated delivery date {edd.date().isoformat()}"
    if code == GESTATIONAL_AGE_CODE:
        quantity = resource.get("valueQuantity")
        value = quantity.get("value") if isinstance(quantity, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return f"gestational age {value:g} weeks"
    return None


def _observation_evidence(resource: Mapping[str, Any], now: datetime) -> str | None:
    status = resource.get("status")
    if status not in ("final", "amended", "corrected"):
        return None
    effective = _parse_instant(resource.get("effectiveDateTime")) or _parse_instant(
        (resource.get("effectivePeriod") or {}).get("start")
        if isinstance(resource.get("effectivePeriod"), Mapping) else None)
    if effective is not None and effective < now - RECENT:
        return None
    for coding in _codings(resource.get("code")):
        system, code = _code_of(coding)
        if system not in (LOINC, "") or not _LOINC.match(code):
            continue
        finding = _observation_finding(code, resource, now)
        if finding is not None:
            return f"Observation {code} (LOINC) {finding}, {status}"
    return None


def pregnancy_evidence(resources: Iterable[Mapping[str, Any]], *,
                       now: datetime | None = None) -> str | None:
    """A short description of the first evidence of a current pregnancy, or None."""
    moment = now or datetime.now(UTC)
    for resource in resources:
        if not isinstance(resource, Mapping):
            continue
        kind = resource.get("resourceType")
        if kind == "Condition":
            evidence = _condition_evidence(resource, moment)
        elif kind == "Observation":
            evidence = _observation_evidence(resource, moment)
        else:
            continue
        if evidence is not None:
            return evidence
    return None
