"""``lab-critical-values``: the patient's recent laboratory Observations at or beyond a
critical limit (``resolvers/labs/critical_values.py``: the table, and the sender's HH/LL/AA
flags), newest result per LOINC code, as critical cards."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from resolvers.cds.hooks.cards import (
    OVERRIDE_SYSTEM,
    TOPIC_SYSTEM,
    CardContext,
    card_uuid,
    summary_text,
)
from resolvers.labs.critical_values import assess

LOINC = "http://loinc.org"
REASONS = ({"system": OVERRIDE_SYSTEM, "code": "already-acted-on",
            "display": "Already known and acted on"},
           {"system": OVERRIDE_SYSTEM, "code": "repeat-normal",
            "display": "A repeat result was normal"})


def _effective(resource: Mapping[str, Any]) -> datetime | None:
    raw = resource.get("effectiveDateTime") or resource.get("issued")
    if not isinstance(raw, str):
        return None
    try:
        found = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def _loinc(resource: Mapping[str, Any]) -> tuple[str, str] | None:
    code = resource.get("code")
    if not isinstance(code, dict) or not isinstance(code.get("coding"), list):
        return None
    for coding in code["coding"]:
        if isinstance(coding, dict) and coding.get("system") == LOINC and isinstance(
                coding.get("code"), str):
            return coding["code"], str(coding.get("display") or code.get("text") or
                                       coding["code"])
    return None


def _flags(resource: Mapping[str, Any]) -> list[str]:
    concepts = resource.get("interpretation")
    return [coding["code"] for concept in (concepts if isinstance(concepts, list) else [])
            if isinstance(concept, dict) and isinstance(concept.get("coding"), list)
            for coding in concept["coding"]
            if isinstance(coding, dict) and isinstance(coding.get("code"), str)]


def lab_cards(observations: Iterable[Mapping[str, Any]], context: CardContext, now: datetime,
              lookback: timedelta) -> list[dict[str, Any]]:
    newest: dict[str, tuple[datetime, Mapping[str, Any], str]] = {}
    for resource in observations:
        when, coded = _effective(resource), _loinc(resource)
        if when is None or coded is None or when < now - lookback or resource.get(
                "status") in ("cancelled", "entered-in-error"):
            continue
        code, name = coded
        if code not in newest or when > newest[code][0]:
            newest[code] = (when, resource, name)
    cards = []
    for code, (when, resource, name) in sorted(newest.items()):
        quantity = resource.get("valueQuantity")
        value = quantity.get("value") if isinstance(quantity, dict) else None
        unit = str(quantity.get("code") or quantity.get("unit") or "") \
            if isinstance(quantity, dict) else ""
        number = float(value) if isinstance(value, int | float) else None
        finding = assess(code, number, unit, _flags(resource))
        if not finding.critical:
            continue
        shown = f"{value:g} {unit}".strip() if number is not None else "result"
        reference = f"Observation/{resource.get('id')}"
        cards.append({
            "uuid": card_uuid(context, f"{reference}|{code}"),
            "summary": summary_text(f"Critical {name}: {shown} ({finding.direction}) on "
                                    f"{when.date().isoformat()}"),
            "indicator": "critical",
            "detail": f"**{name}** (LOINC `{code}`, {reference}): {finding.reason}.\n\n"
                      f"Rule source: {finding.source or 'the gateway critical-value table'}.",
            "source": {"label": "Cari critical lab value rules", "url": context.fallback_url,
                       "topic": {"system": TOPIC_SYSTEM, "code": "critical-lab-value",
                                 "display": "Critical laboratory value"}},
            "overrideReasons": [dict(r) for r in REASONS]})
    return cards
