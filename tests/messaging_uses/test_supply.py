"""When a prescription's supply runs out, and the refill reminders it calls for."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from resolvers.messaging.model import Purpose
from resolvers.messaging_uses.model import MessagingUsesConfig
from resolvers.messaging_uses.refills import refill_messages, refill_supply, signature
from resolvers.messaging_uses.supply import supply_of


def rx(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resourceType": "MedicationRequest", "id": "rx1", "status": "active",
        "intent": "order", "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"text": "metformin 500 mg"},
        "authoredOn": "2026-12-01",
        "dosageInstruction": [{"timing": {"repeat": {"frequency": 2, "period": 1,
                                                     "periodUnit": "d"}},
                               "doseAndRate": [{"doseQuantity": {
                                   "value": 1, "unit": "tablet", "code": "TAB"}}]}],
        "dispenseRequest": {"quantity": {"value": 60, "unit": "tablet", "code": "TAB"}},
    }
    doc.update(changes)
    return doc


@pytest.mark.parametrize(("duration", "days"), [
    ({"value": 30, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}, 30),
    ({"value": 4, "code": "wk"}, 28),
    ({"value": 2, "code": "mo"}, 60),
    ({"value": 1, "unit": "week"}, 7),
    ({"value": 1, "code": "a"}, 365),
    ({"value": 36, "code": "h"}, 1.5),
])
def test_expected_supply_duration_in_every_unit(duration: dict[str, Any], days: float) -> None:
    supply = supply_of(rx(dispenseRequest={"expectedSupplyDuration": duration,
                                           "quantity": {"value": 999}}))
    assert supply.days == pytest.approx(days)
    assert supply.reason is None


def test_quantity_over_the_daily_dose() -> None:
    supply = supply_of(rx())  # 60 tablets, 1 tablet twice a day: 30 days
    assert supply.days == pytest.approx(30)
    assert supply.start == date(2026, 12, 1)
    assert supply.runs_out() == [date(2026, 12, 31)]


def test_a_dose_every_other_week_and_no_frequency() -> None:
    doc = rx(dosageInstruction=[{"timing": {"repeat": {"period": 2, "periodUnit": "wk"}},
                                 "doseAndRate": [{"doseQuantity": {"value": 1}}]}],
             dispenseRequest={"quantity": {"value": 3}})
    assert supply_of(doc).days == pytest.approx(42)


def test_validity_start_wins_over_authored_on_and_repeats_are_fills() -> None:
    doc = rx(dispenseRequest={"validityPeriod": {"start": "2026-12-05T10:00:00+03:00"},
                              "expectedSupplyDuration": {"value": 10, "code": "d"},
                              "numberOfRepeatsAllowed": 2})
    assert supply_of(doc).runs_out() == [date(2026, 12, 15), date(2026, 12, 25),
                                         date(2027, 1, 4)]


@pytest.mark.parametrize(("doc", "reason"), [
    (rx(dispenseRequest=None), "no dispenseRequest"),
    (rx(authoredOn=None), "no start"),
    (rx(authoredOn="yesterday"), "no start"),
    (rx(dispenseRequest={"expectedSupplyDuration": {"value": 3, "code": "mg"}}),
     "not a time unit"),
    (rx(dispenseRequest={"expectedSupplyDuration": {"value": -3, "code": "d"}}),
     "no positive value"),
    (rx(dispenseRequest={"expectedSupplyDuration": {"code": "d"}, "quantity": {"value": 30}}),
     "no positive value"),
    (rx(dispenseRequest={}), "neither expectedSupplyDuration nor"),
    (rx(dispenseRequest={"quantity": {"value": "60"}}), "neither expectedSupplyDuration nor"),
    (rx(dosageInstruction=None), "no dosageInstruction"),
    (rx(dosageInstruction=[{}, {}]), "several dosage instructions"),
    (rx(dosageInstruction=[{"doseAndRate": [{"doseRange": {"low": {"value": 1}}}]}]),
     "no doseQuantity"),
    (rx(dosageInstruction=[{"doseAndRate": [{"doseQuantity": {"value": 1}}]}]),
     "no timing.repeat"),
    (rx(dosageInstruction=[{"timing": {"repeat": {"frequency": 2}},
                            "doseAndRate": [{"doseQuantity": {"value": 1}}]}]),
     "needs frequency, period"),
    (rx(dosageInstruction=[{"timing": {"repeat": {"frequency": 1, "period": 1,
                                                  "periodUnit": "d"}},
                            "doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mL"}}]}]),
     "quantity in 'tab' but dose in 'ml'"),
    (rx(dispenseRequest={"expectedSupplyDuration": {"value": 20, "code": "a"}}),
     "implausible"),
    (rx(dosageInstruction="twice a day"), "no dosageInstruction"),
    (rx(dosageInstruction=[{"timing": "daily",
                            "doseAndRate": [{"doseQuantity": {"value": 1}}]}]),
     "no timing.repeat"),
])
def test_missing_or_unusable_fields_give_no_date_and_say_why(doc: dict[str, Any],
                                                             reason: str) -> None:
    supply = supply_of(doc)
    assert supply.runs_out() == []
    assert supply.reason is not None and reason in supply.reason


def test_inactive_prescriptions_call_for_nothing() -> None:
    for status in ("stopped", "completed", "cancelled", "on-hold", "draft"):
        assert refill_supply(rx(status=status)).reason == f"status {status!r} is not active"
        assert signature(rx(status=status)) is None
    assert "not a Patient" in str(refill_supply(rx(subject={"reference": "Group/g"})).reason)


CONFIG = MessagingUsesConfig(facility_name="Kibera Clinic", refill_days_before=3)


def test_one_reminder_per_fill_days_before_at_the_hour_past_ones_skipped() -> None:
    doc = rx(dispenseRequest={"expectedSupplyDuration": {"value": 10, "code": "d"},
                              "numberOfRepeatsAllowed": 2})  # 12-11, 12-21, 12-31
    now = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)  # 12-08 09:00 is already past
    messages = refill_messages(doc, 4, now, CONFIG)
    assert [(m.key, m.send_at) for m in messages] == [
        ("refill:rx1:v4:2026-12-21", datetime(2026, 12, 18, 9, tzinfo=UTC)),
        ("refill:rx1:v4:2026-12-31", datetime(2026, 12, 28, 9, tzinfo=UTC))]
    first = messages[0]
    assert first.purpose is Purpose.REFILL_REMINDER and first.patient_id == "p1"
    assert first.template.body_params == ("2026-12-21", "Kibera Clinic")
    assert "metformin" not in repr(first)  # never the medication


def test_no_template_no_reminders() -> None:
    off = MessagingUsesConfig(refill_template="")
    assert refill_messages(rx(), 1, datetime(2026, 12, 1, tzinfo=UTC), off) == []
