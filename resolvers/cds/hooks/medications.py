"""What callers send as medications, as ``MedicationFacts`` for the checker.

``context.medications`` items may be FHIR MedicationRequest or MedicationStatement resources,
CodeableConcepts, Codings, ``{name|text|display, code, system}`` objects or plain strings.
Draft orders (order-select, order-sign) come as a Bundle of MedicationRequests; other request
types in it (ServiceRequest, NutritionOrder) carry no medication and are passed over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from resolvers.cds.model import Coding, MedicationFacts

MEDICATION_TYPES = ("MedicationRequest", "MedicationStatement", "MedicationAdministration",
                    "MedicationDispense")


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _codings(concept: Mapping[str, Any]) -> tuple[Coding, ...]:
    found = concept.get("coding")
    if not isinstance(found, list):
        return ()
    return tuple(Coding(_str(c.get("system")) or "", code, _str(c.get("display")))
                 for c in found if isinstance(c, dict) and (code := _str(c.get("code"))))


def _concept_facts(concept: Mapping[str, Any], *, reference: str | None = None,
                   draft: bool = False) -> MedicationFacts:
    codings = _codings(concept)
    text = _str(concept.get("text")) or next((c.display for c in codings if c.display), None)
    return MedicationFacts(codings=codings, text=text, reference=reference, draft=draft)


def _resource_facts(resource: Mapping[str, Any], *, draft: bool) -> MedicationFacts | None:
    resource_type = resource.get("resourceType")
    rid = _str(resource.get("id"))
    reference = f"{resource_type}/{rid}" if rid else None
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        return _concept_facts(concept, reference=reference, draft=draft)
    med_ref = resource.get("medicationReference")
    if isinstance(med_ref, dict) and (display := _str(med_ref.get("display"))):
        return MedicationFacts(text=display, reference=reference, draft=draft)
    return None


def facts_of(item: Any, *, draft: bool = False) -> MedicationFacts | None:
    """One ``context.medications`` item; None when it names no medication."""
    if isinstance(item, str):
        return MedicationFacts(text=item.strip(), draft=draft) if item.strip() else None
    if not isinstance(item, dict):
        return None
    if item.get("resourceType") in MEDICATION_TYPES:
        return _resource_facts(item, draft=draft)
    if "coding" in item or ("text" in item and "code" not in item):  # a CodeableConcept
        facts = _concept_facts(item, draft=draft)
        return facts if facts.codings or facts.text else None
    code = _str(item.get("code"))
    text = _str(item.get("name")) or _str(item.get("text")) or _str(item.get("display"))
    codings = (Coding(_str(item.get("system")) or "", code, text),) if code else ()
    if not codings and not text:
        return None
    return MedicationFacts(codings=codings, text=text, draft=draft)


def facts_from_items(items: Iterable[Any], *, draft: bool = False) -> list[MedicationFacts]:
    return [f for item in items if (f := facts_of(item, draft=draft)) is not None]


def bundle_resources(bundle: Any) -> list[dict[str, Any]]:
    """The resources of a Bundle (a prefetch answer, draftOrders); [] for anything else."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return []
    entries = bundle.get("entry")
    return [e["resource"] for e in entries if isinstance(e, dict)
            and isinstance(e.get("resource"), dict)] if isinstance(entries, list) else []


def draft_orders(bundle: Any, selections: Sequence[str] | None) -> list[MedicationFacts]:
    """The draft MedicationRequests: draft=True for the ones being decided on (all of them on
    order-sign; the ``selections`` on order-select), the other drafts as context."""
    chosen = set(selections) if selections is not None else None
    found: list[MedicationFacts] = []
    for resource in bundle_resources(bundle):
        if resource.get("resourceType") not in MEDICATION_TYPES:
            continue
        reference = f"{resource.get('resourceType')}/{resource.get('id')}"
        facts = _resource_facts(resource, draft=chosen is None or reference in chosen)
        if facts is not None:
            found.append(facts)
    return found
