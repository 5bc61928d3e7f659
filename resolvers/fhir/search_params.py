"""The search parameters each resource type supports, and how values are extracted.

Paths are simple dotted element paths (arrays are walked; ``value[x]`` choices are listed
one by one). What a type supports here is exactly what the CapabilityStatement advertises.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from resolvers.fhir.dates import date_range
from resolvers.fhir.model import IndexEntry

OPEN_LO = datetime(1, 1, 2, tzinfo=UTC)
OPEN_HI = datetime(9999, 12, 30, tzinfo=UTC)


@dataclass(frozen=True)
class SearchParam:
    name: str
    kind: str  # token | string | reference | date
    paths: tuple[str, ...]
    description: str
    target: str | None = None  # reference: the resource type referred to


def _p(name: str, kind: str, *paths: str, doc: str = "", target: str | None = None) -> SearchParam:
    return SearchParam(name, kind, paths, doc or name, target)


IDENTIFIER = _p("identifier", "token", "identifier", doc="system|value of an identifier")


def _subject(name: str = "subject") -> list[SearchParam]:
    return [_p(name, "reference", name, doc=f"Who the record is about ({name})"),
            _p("patient", "reference", name, doc="The patient (a Patient reference)",
               target="Patient")]


SEARCH_PARAMS: dict[str, list[SearchParam]] = {
    "Patient": [IDENTIFIER, _p("name", "string", "name.family", "name.given", "name.text"),
                _p("family", "string", "name.family"), _p("given", "string", "name.given"),
                _p("birthdate", "date", "birthDate"), _p("gender", "token", "gender"),
                _p("organization", "reference", "managingOrganization")],
    "Practitioner": [IDENTIFIER, _p("name", "string", "name.family", "name.given", "name.text"),
                     _p("family", "string", "name.family"), _p("given", "string", "name.given")],
    "Organization": [IDENTIFIER, _p("name", "string", "name", "alias"),
                     _p("type", "token", "type")],
    "Encounter": [IDENTIFIER, *_subject(), _p("status", "token", "status"),
                  _p("date", "date", "period"), _p("class", "token", "class")],
    "Observation": [IDENTIFIER, *_subject(), _p("code", "token", "code"),
                    _p("status", "token", "status"), _p("category", "token", "category"),
                    _p("date", "date", "effectiveDateTime", "effectivePeriod", "effectiveInstant"),
                    _p("encounter", "reference", "encounter")],
    "DiagnosticReport": [IDENTIFIER, *_subject(), _p("code", "token", "code"),
                         _p("status", "token", "status"), _p("category", "token", "category"),
                         _p("date", "date", "effectiveDateTime", "effectivePeriod"),
                         _p("encounter", "reference", "encounter")],
    "MedicationRequest": [IDENTIFIER, *_subject(), _p("code", "token", "medicationCodeableConcept"),
                          _p("status", "token", "status"), _p("intent", "token", "intent"),
                          _p("date", "date", "authoredOn")],
    "Condition": [IDENTIFIER, *_subject(), _p("code", "token", "code"),
                  _p("status", "token", "clinicalStatus"),
                  _p("date", "date", "onsetDateTime", "onsetPeriod", "recordedDate")],
    "AllergyIntolerance": [IDENTIFIER, _p("patient", "reference", "patient", target="Patient"),
                           _p("code", "token", "code"), _p("status", "token", "clinicalStatus"),
                           _p("date", "date", "recordedDate")],
    "Procedure": [IDENTIFIER, *_subject(), _p("code", "token", "code"),
                  _p("status", "token", "status"),
                  _p("date", "date", "performedDateTime", "performedPeriod")],
    "Immunization": [IDENTIFIER, _p("patient", "reference", "patient", target="Patient"),
                     _p("code", "token", "vaccineCode"), _p("status", "token", "status"),
                     _p("date", "date", "occurrenceDateTime")],
    # The patient is one of the participants (participant.actor), as in R4's own parameters.
    "Appointment": [IDENTIFIER, _p("actor", "reference", "participant.actor",
                                   doc="Any participant (patient, practitioner, location)"),
                    _p("patient", "reference", "participant.actor",
                       doc="The patient among the participants", target="Patient"),
                    _p("practitioner", "reference", "participant.actor",
                       doc="A practitioner among the participants", target="Practitioner"),
                    _p("date", "date", "start"), _p("status", "token", "status"),
                    _p("service-type", "token", "serviceType")],
    # One participant's answer to an Appointment; the patient when the actor is one.
    "AppointmentResponse": [IDENTIFIER,
                            _p("appointment", "reference", "appointment",
                               doc="The appointment answered", target="Appointment"),
                            _p("actor", "reference", "actor", doc="Who answered"),
                            _p("patient", "reference", "actor",
                               doc="The patient who answered", target="Patient"),
                            _p("part-status", "token", "participantStatus")],
}
# Which date parameter also orders results for _sort=date / birthdate.
SORT_DATE = {t: next((p for p in ps if p.kind == "date"), None) for t, ps in SEARCH_PARAMS.items()}


def params_of(resource_type: str) -> dict[str, SearchParam]:
    return {p.name: p for p in SEARCH_PARAMS.get(resource_type, [])}


def _walk(node: Any, parts: list[str]) -> Iterator[Any]:
    if not parts:
        if isinstance(node, list):
            yield from node
        else:
            yield node
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, parts)
        return
    if isinstance(node, dict) and parts[0] in node:
        yield from _walk(node[parts[0]], parts[1:])


def _entries(param: SearchParam, value: Any) -> Iterator[IndexEntry]:
    if param.kind == "string" and isinstance(value, str):
        yield IndexEntry(param.name, value=value.lower())
    elif param.kind == "token":
        if isinstance(value, str | bool):
            yield IndexEntry(param.name, value=str(value).lower() if isinstance(value, bool) else value)
        elif isinstance(value, dict) and "coding" in value:  # CodeableConcept
            for coding in value.get("coding") or []:
                if isinstance(coding, dict) and coding.get("code"):
                    yield IndexEntry(param.name, system=coding.get("system"), value=coding["code"])
        elif isinstance(value, dict) and "value" in value and isinstance(value["value"], str):
            yield IndexEntry(param.name, system=value.get("system"), value=value["value"])  # Identifier
        elif isinstance(value, dict) and value.get("code"):  # Coding
            yield IndexEntry(param.name, system=value.get("system"), value=value["code"])
    elif param.kind == "reference" and isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref:
            normal = _normalise_reference(ref)
            if param.target is None or normal.startswith(param.target + "/"):
                yield IndexEntry(param.name, value=normal)
    elif param.kind == "date":
        yield from _date_entries(param.name, value)


def _date_entries(name: str, value: Any) -> Iterator[IndexEntry]:
    if isinstance(value, str):
        found = date_range(value)
        if found:
            yield IndexEntry(name, date_lo=found[0], date_hi=found[1])
    elif isinstance(value, dict) and ("start" in value or "end" in value):  # Period
        start = date_range(value["start"]) if isinstance(value.get("start"), str) else None
        end = date_range(value["end"]) if isinstance(value.get("end"), str) else None
        if start or end:  # an open end runs to the edge of time
            yield IndexEntry(name, date_lo=start[0] if start else OPEN_LO,
                             date_hi=end[1] if end else OPEN_HI)


def _normalise_reference(ref: str) -> str:
    """``http://x/fhir/Patient/1/_history/2`` and ``Patient/1`` both index as ``Patient/1``."""
    parts = ref.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:]) if len(parts) >= 2 else ref


# The index columns hold 255 characters. A search value may be at most 255 (the input rule,
# resolvers/fhir/search.py), so a longer value could never be asked for: it is left out of
# the index (the document keeps it) rather than failing the write on PostgreSQL.
MAX_INDEXED = 255


def _indexable(entry: IndexEntry) -> bool:
    return len(entry.value or "") <= MAX_INDEXED and len(entry.system or "") <= MAX_INDEXED


def index_resource(resource: dict[str, Any]) -> list[IndexEntry]:
    entries: list[IndexEntry] = []
    for param in SEARCH_PARAMS.get(str(resource.get("resourceType")), []):
        for path in param.paths:
            for value in _walk(resource, path.split(".")):
                entries.extend(e for e in _entries(param, value) if _indexable(e))
    return list(dict.fromkeys(entries))


def sort_date(resource: dict[str, Any], entries: list[IndexEntry]) -> datetime | None:
    param = SORT_DATE.get(str(resource.get("resourceType")))
    if param is None:
        return None
    return min((e.date_lo for e in entries if e.param == param.name and e.date_lo), default=None)


def patient_reference(reference: Any) -> str | None:
    """The bare patient id of a reference to a Patient, else None."""
    if not isinstance(reference, str):
        return None
    if reference.startswith("Patient/") and reference.count("/") == 1:
        return reference[8:]  # the usual relative form (every search result's audit asks)
    normal = _normalise_reference(reference)
    return normal.split("/", 1)[1] if normal.startswith("Patient/") else None


def patient_of(resource: dict[str, Any]) -> str | None:
    """The patient a resource is about (for the audit trail), as a bare id."""
    if resource.get("resourceType") == "Patient":
        return str(resource.get("id")) if resource.get("id") else None
    for key in ("subject", "patient"):
        ref = resource.get(key)
        if isinstance(ref, dict) and (found := patient_reference(ref.get("reference"))):
            return found
    if resource.get("resourceType") == "AppointmentResponse":  # a patient's own answer
        actor = resource.get("actor")
        return patient_reference(actor.get("reference")) if isinstance(actor, dict) else None
    if resource.get("resourceType") == "Appointment":  # the first participant who is one
        for participant in resource.get("participant") or []:
            actor = participant.get("actor") if isinstance(participant, dict) else None
            if isinstance(actor, dict) and (found := patient_reference(actor.get("reference"))):
                return found
    return None
