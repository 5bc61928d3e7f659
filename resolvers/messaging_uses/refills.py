"""The refill reminders a MedicationRequest calls for (pure; the reconciler acts on them).

One reminder per fill, ``CARI_REFILL_REMINDER_DAYS`` before it runs out, at
``CARI_REFILL_REMINDER_HOUR_UTC`` on that day; days already past are skipped. Template:
body ``{{1}}`` the day the supply runs out (``2026-12-10``), ``{{2}}`` the facility. Never
the medication: a phone's lock screen is not the place for a diagnosis.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from resolvers.fhir.search_params import patient_of
from resolvers.messaging.model import MessageRequest, Purpose, TemplateCall
from resolvers.messaging_uses.model import ACTIVE_PRESCRIPTION, MessagingUsesConfig
from resolvers.messaging_uses.runs import run_prefix
from resolvers.messaging_uses.supply import Supply, supply_of

KIND = "refill"


def refill_supply(doc: dict[str, Any]) -> Supply:
    """The supply of an active prescription; otherwise no date, and why."""
    if doc.get("status") not in ACTIVE_PRESCRIPTION:
        return Supply(reason=f"status {doc.get('status')!r} is not active")
    if patient_of(doc) is None:
        return Supply(reason="the subject is not a Patient")
    return supply_of(doc)


def signature(doc: dict[str, Any]) -> Hashable | None:
    """The days the fills run out and the patient, while the prescription is active: a
    change of dose or quantity that moves them (or of the patient) begins a new run."""
    dates = refill_supply(doc).runs_out()
    return (tuple(d.isoformat() for d in dates), patient_of(doc)) if dates else None


def refill_messages(doc: dict[str, Any], run: int, now: datetime,
                    config: MessagingUsesConfig) -> list[MessageRequest]:
    patient = patient_of(doc)
    rid = str(doc.get("id") or "")
    if not config.refill_template or patient is None or not rid:
        return []
    out: list[MessageRequest] = []
    for runs_out in refill_supply(doc).runs_out()[:config.refill_max_fills]:
        day = runs_out - timedelta(days=config.refill_days_before)
        send_at = datetime.combine(day, time(config.refill_send_hour_utc), tzinfo=UTC)
        if send_at <= now:
            continue
        out.append(MessageRequest(
            key=f"{run_prefix(KIND, rid, run)}{runs_out.isoformat()}",
            purpose=Purpose.REFILL_REMINDER,
            template=TemplateCall(config.refill_template, config.language,
                                  body_params=(runs_out.isoformat(),
                                               config.facility_name or "-")),
            send_at=send_at, patient_id=patient))
    return out
