"""Findings of the knowledge base as CDS Hooks 2.0 cards.

Severity to indicator: contraindicated -> critical; major -> warning (critical is kept for
the combinations never to give, so it stands out; a major interaction is managed, not
forbidden); moderate -> warning; minor -> info.

A card's uuid is derived (uuid5) from the service, the hookInstance and the finding, so a
client that resends a call gets the same uuids. Suggestions exist only for draft orders
(order-select, order-sign): delete the draft (``resourceId`` ``MedicationRequest/<id>``).
The JSON rule holds: no null, "", [] or {} is ever written; optional fields are left out.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.cds.model import Finding, FindingKind, RecognisedMedication, Severity

CARD_NAMESPACE = uuid.UUID("6f1f6b8e-3c1d-5a0e-9a57-0c2d1e4b7a10")
TOPIC_SYSTEM = "https://cari.health/fhir/CodeSystem/cds-topic"
OVERRIDE_SYSTEM = "https://cari.health/fhir/CodeSystem/cds-override-reason"
MAX_SUMMARY = 140
INDICATOR = {Severity.CONTRAINDICATED: "critical", Severity.MAJOR: "warning",
             Severity.MODERATE: "warning", Severity.MINOR: "info"}
TOPIC_DISPLAY = {FindingKind.INTERACTION: "Drug-drug interaction",
                 FindingKind.DUPLICATE_THERAPY: "Duplicate therapy",
                 FindingKind.PREGNANCY: "Medication in pregnancy"}
OVERRIDE_REASONS: tuple[dict[str, str], ...] = (
    {"system": OVERRIDE_SYSTEM, "code": "benefit-outweighs-risk",
     "display": "Benefit outweighs the risk"},
    {"system": OVERRIDE_SYSTEM, "code": "monitoring-in-place",
     "display": "The patient will be monitored"},
    {"system": OVERRIDE_SYSTEM, "code": "already-tolerated",
     "display": "The patient already tolerates the combination"},
    {"system": OVERRIDE_SYSTEM, "code": "not-applicable",
     "display": "Does not apply to this patient"},
)


@dataclass(frozen=True)
class CardContext:
    service_id: str
    hook_instance: str
    fallback_url: str  # the source URL when the knowledge base's source has none
    knowledge_version: str


def card_uuid(context: CardContext, key: str) -> str:
    return str(uuid.uuid5(CARD_NAMESPACE, f"{context.service_id}|{context.hook_instance}|{key}"))


def summary_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_SUMMARY else text[:MAX_SUMMARY - 1].rstrip() + "…"


def _name(medication: RecognisedMedication) -> str:
    return medication.facts.text or medication.ingredient


def _matched(medication: RecognisedMedication) -> str:
    coding = medication.matched_by
    by = f"name `{coding.code}`" if coding.system == "name" else (
        f"`{coding.system}|{coding.code}`" if coding.system else f"code `{coding.code}`")
    origin = f" ({medication.facts.reference})" if medication.facts.reference else ""
    draft = ", draft order" if medication.facts.draft else ""
    return f"- **{_name(medication)}**{origin}{draft}: recognised as *{medication.ingredient}* " \
           f"by {by}"


def detail_markdown(finding: Finding, version: str) -> str:
    lines = [f"**{TOPIC_DISPLAY[finding.kind]}** ({finding.severity.value})", "",
             "**Why this card:**", *(_matched(m) for m in finding.medications), "",
             f"**Mechanism:** {finding.mechanism}", "",
             f"**Clinical effect:** {finding.clinical_effect}", "",
             f"**Management:** {finding.management}"]
    if finding.sources:
        lines += ["", "**References:**"]
        for source in finding.sources:
            cited = f"{source.label}, {source.citation}" if source.citation else source.label
            lines.append(f"- [{cited}]({source.url})" if source.url else f"- {cited}")
    lines += ["", f"Knowledge base entry `{finding.entry_id}`, version {version}."]
    return "\n".join(lines)


def _suggestions(finding: Finding, card: str) -> list[dict[str, Any]]:
    drafts = [m for m in finding.medications if m.facts.draft and m.facts.reference]
    suggestions = []
    for medication in drafts:
        reference = medication.facts.reference
        assert reference is not None
        suggestions.append({
            "label": summary_text(f"Cancel the draft order for {_name(medication)}"),
            "uuid": str(uuid.uuid5(CARD_NAMESPACE, f"{card}|{reference}")),
            "isRecommended": finding.severity in (Severity.CONTRAINDICATED, Severity.MAJOR),
            "actions": [{"type": "delete", "resourceId": reference,
                         "description": f"Remove the draft order {reference}"}]})
    return suggestions


def finding_card(finding: Finding, context: CardContext) -> dict[str, Any]:
    key = finding.entry_id + "|" + "|".join(sorted(
        m.facts.reference or m.ingredient for m in finding.medications))
    uuid_ = card_uuid(context, key)
    first = finding.sources[0] if finding.sources else None
    source: dict[str, Any] = {
        "label": first.label if first else "Cari interaction knowledge base",
        "url": (first.url if first and first.url else context.fallback_url),
        "topic": {"system": TOPIC_SYSTEM, "code": finding.kind.value,
                  "display": TOPIC_DISPLAY[finding.kind]}}
    card: dict[str, Any] = {
        "uuid": uuid_, "summary": summary_text(finding.summary),
        "indicator": INDICATOR[finding.severity],
        "detail": detail_markdown(finding, context.knowledge_version), "source": source,
        "overrideReasons": [dict(r) for r in OVERRIDE_REASONS]}
    suggestions = _suggestions(finding, uuid_)
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "at-most-one"
    links = [{"label": s.label[:200], "url": s.url, "type": "absolute"}
             for s in finding.sources if s.url]
    if links:
        card["links"] = links
    return card


def finding_cards(findings: Sequence[Finding], context: CardContext,
                  *, drafts_only: bool) -> list[dict[str, Any]]:
    """Cards for ``findings``; with ``drafts_only`` (the ordering hooks) only those about a
    medication being ordered now: the rest were there before the order."""
    return [finding_card(f, context) for f in findings
            if not drafts_only or any(m.facts.draft for m in f.medications)]
