"""Layer 2: the gateway's own rules on top of the R4 definitions.

Pure functions over parsed JSON (no FHIR library): each takes the resource and the FHIRPath
of where it sits (``Observation``, or ``Bundle.entry[2].resource``) and returns its
problems. The structural layer (``adapters/fhir``) has already reported wrong types and
shapes; these rules only ask whether what the gateway needs is there, so a value of the
wrong type counts as present here (and as wrong there). "Present" means a value: an element
carried only by an extension (``_status``), ``null``, ``""``, ``[]`` or ``{}`` is missing.

* Patient: an ``id`` or an ``identifier`` with a ``value`` (to match it);
* Encounter: ``status`` and ``class``;
* Observation: ``status``, ``code`` and ``subject``;
* MedicationRequest: ``status``, ``intent``, ``subject`` and a medication
  (``medicationReference`` or ``medicationCodeableConcept``);
* Condition: ``code`` and ``subject``;
* AllergyIntolerance: ``patient``;
* Appointment: ``start`` and ``end`` unless proposed, cancelled or waitlisted (app-3);
* Bundle: ``type``; in a transaction or batch every entry has a ``request`` (bdl-3), in a
  transaction-response or batch-response a ``response`` (bdl-4).

Every issue is an ``error``: ``required`` for what is missing, ``invalid`` for the Bundle
entry rules. Contained resources are parts of their container and are not checked here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from resolvers.fhir.issues import Issue

Rule = Callable[[Mapping[str, Any], str], list[Issue]]


def present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _require(resource: Mapping[str, Any], base: str, *names: str) -> list[Issue]:
    return [Issue("error", "required", f"{base}.{name} is required", f"{base}.{name}")
            for name in names if not present(resource.get(name))]


def patient_identity(resource: Mapping[str, Any], base: str) -> list[Issue]:
    """A Patient needs an id or an identifier with a value, so that it can be matched."""
    identifiers = resource.get("identifier")
    has_identifier = isinstance(identifiers, list) and any(
        isinstance(i, Mapping) and present(i.get("value")) for i in identifiers)
    if present(resource.get("id")) or has_identifier:
        return []
    return [Issue("error", "required", f"{base} needs an id or an identifier with a value",
                  f"{base}.identifier")]


def encounter_status_and_class(resource: Mapping[str, Any], base: str) -> list[Issue]:
    return _require(resource, base, "status", "class")


def observation_status_code_subject(resource: Mapping[str, Any], base: str) -> list[Issue]:
    return _require(resource, base, "status", "code", "subject")


def medication_request_essentials(resource: Mapping[str, Any], base: str) -> list[Issue]:
    issues = _require(resource, base, "status", "intent", "subject")
    if not (present(resource.get("medicationReference"))
            or present(resource.get("medicationCodeableConcept"))):
        issues.append(Issue("error", "required", f"{base}.medication is required: give "
                            "medicationCodeableConcept or medicationReference",
                            f"{base}.medication"))
    return issues


def condition_code_subject(resource: Mapping[str, Any], base: str) -> list[Issue]:
    return _require(resource, base, "code", "subject")


def allergy_patient(resource: Mapping[str, Any], base: str) -> list[Issue]:
    return _require(resource, base, "patient")


def appointment_times(resource: Mapping[str, Any], base: str) -> list[Issue]:
    """app-3: only a proposed, cancelled or waitlisted appointment may lack start and end
    (reminders are computed from the start)."""
    if resource.get("status") in ("proposed", "cancelled", "waitlist"):
        return []
    return _require(resource, base, "start", "end")


def bundle_type(resource: Mapping[str, Any], base: str) -> list[Issue]:
    return _require(resource, base, "type")


def bundle_entry_requests(resource: Mapping[str, Any], base: str) -> list[Issue]:
    """bdl-3 and bdl-4: transaction and batch entries carry a request, their responses a
    response."""
    kind = resource.get("type")
    if kind in ("transaction", "batch"):
        needed = "request"
    elif kind in ("transaction-response", "batch-response"):
        needed = "response"
    else:
        return []
    entries = resource.get("entry")
    if not isinstance(entries, list):
        return []
    return [Issue("error", "invalid", f"{base}.entry[{i}] needs a {needed} in a {kind} Bundle",
                  f"{base}.entry[{i}].{needed}")
            for i, entry in enumerate(entries)
            if isinstance(entry, Mapping) and not present(entry.get(needed))]


RULES: dict[str, tuple[Rule, ...]] = {
    "Patient": (patient_identity,),
    "Encounter": (encounter_status_and_class,),
    "Observation": (observation_status_code_subject,),
    "MedicationRequest": (medication_request_essentials,),
    "Condition": (condition_code_subject,),
    "AllergyIntolerance": (allergy_patient,),
    "Appointment": (appointment_times,),
    "Bundle": (bundle_type, bundle_entry_requests),
}


def check(resource: Mapping[str, Any], base: str | None = None) -> list[Issue]:
    """Every layer-2 problem of ``resource``; ``base`` defaults to its resourceType."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return []
    issues: list[Issue] = []
    for rule in RULES.get(resource_type, ()):
        issues += rule(resource, base or resource_type)
    return issues
