"""When a prescription's supply runs out, from a MedicationRequest (pure; never raises).

In order of preference:

1. ``dispenseRequest.expectedSupplyDuration`` (a Duration: UCUM ``min``, ``h``, ``d``,
   ``wk``, ``mo`` (30 days), ``a`` (365 days), or the same words in ``unit``);
2. ``dispenseRequest.quantity`` divided by the daily dose of the one dosage instruction:
   ``doseAndRate[0].doseQuantity`` times ``timing.repeat.frequency`` (1 when absent) per
   ``period`` ``periodUnit``. The quantity and the dose must be in the same unit when both
   say one.

The supply starts at ``dispenseRequest.validityPeriod.start``, else ``authoredOn``. With
``numberOfRepeatsAllowed`` n there are n + 1 fills back to back; each runs out in turn.
Anything missing or unusable gives no date and the reason, for the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

# UCUM codes (and the words people write in ``unit``) -> days.
UNIT_DAYS: dict[str, float] = {
    "min": 1 / 1440, "minute": 1 / 1440, "minutes": 1 / 1440,
    "h": 1 / 24, "hour": 1 / 24, "hours": 1 / 24,
    "d": 1.0, "day": 1.0, "days": 1.0,
    "wk": 7.0, "week": 7.0, "weeks": 7.0,
    "mo": 30.0, "month": 30.0, "months": 30.0,
    "a": 365.0, "year": 365.0, "years": 365.0,
}
MAX_SUPPLY_DAYS = 5 * 365  # beyond this the data is wrong, not the patient's supply


@dataclass(frozen=True)
class Supply:
    start: date | None = None
    days: float | None = None  # how long one fill lasts
    fills: int = 1
    reason: str | None = None  # why there is no date

    def runs_out(self) -> list[date]:
        """The day each fill runs out (the last is the prescription's end)."""
        if self.start is None or self.days is None:
            return []
        return [self.start + timedelta(days=self.days * n) for n in range(1, self.fills + 1)]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value > 0 else None


def _unit_days(quantity: dict[str, Any]) -> float | None:
    for name in ("code", "unit"):
        unit = quantity.get(name)
        if isinstance(unit, str) and unit.strip().lower() in UNIT_DAYS:
            return UNIT_DAYS[unit.strip().lower()]
    return None


def _duration_days(duration: Any) -> tuple[float | None, str | None]:
    if not isinstance(duration, dict):
        return None, "no expectedSupplyDuration"
    value, per = _number(duration.get("value")), _unit_days(duration)
    if value is None:
        return None, "expectedSupplyDuration has no positive value"
    if per is None:
        unit = duration.get("code") or duration.get("unit")
        return None, f"expectedSupplyDuration unit {unit!r} is not a time unit"
    return value * per, None


def _unit_of(quantity: dict[str, Any]) -> str | None:
    unit = quantity.get("code") or quantity.get("unit")
    return unit.strip().lower() if isinstance(unit, str) and unit.strip() else None


def _daily_dose(dosages: Any) -> tuple[float | None, str | None, str | None]:
    """(amount per day, its unit, reason when unknown)."""
    if not isinstance(dosages, list) or not dosages:
        return None, None, "no dosageInstruction"
    if len(dosages) > 1:
        return None, None, "several dosage instructions (a schedule that changes)"
    dosage = dosages[0] if isinstance(dosages[0], dict) else {}
    rates = dosage.get("doseAndRate")
    dose = rates[0].get("doseQuantity") if isinstance(rates, list) and rates and isinstance(
        rates[0], dict) else None
    if not isinstance(dose, dict) or _number(dose.get("value")) is None:
        return None, None, "no doseQuantity (a dose range or none)"
    repeat = (dosage.get("timing") or {}).get("repeat") if isinstance(
        dosage.get("timing"), dict) else None
    if not isinstance(repeat, dict):
        return None, None, "no timing.repeat"
    frequency = _number(repeat.get("frequency")) if "frequency" in repeat else 1.0
    period = _number(repeat.get("period"))
    per = UNIT_DAYS.get(str(repeat.get("periodUnit") or "").lower())
    if frequency is None or period is None or per is None:
        return None, None, "timing.repeat needs frequency, period and a periodUnit"
    amount = float(dose["value"])  # checked by _number above
    return amount * frequency / (period * per), _unit_of(dose), None


def _quantity_days(request: dict[str, Any], dispense: dict[str, Any]) -> tuple[float | None,
                                                                                str | None]:
    quantity = dispense.get("quantity")
    if not isinstance(quantity, dict) or _number(quantity.get("value")) is None:
        return None, "neither expectedSupplyDuration nor a positive dispenseRequest.quantity"
    daily, dose_unit, reason = _daily_dose(request.get("dosageInstruction"))
    if daily is None:
        return None, reason
    quantity_unit = _unit_of(quantity)
    if quantity_unit and dose_unit and quantity_unit != dose_unit:
        return None, f"quantity in {quantity_unit!r} but dose in {dose_unit!r}"
    return float(quantity["value"]) / daily, None


def _start(request: dict[str, Any], dispense: dict[str, Any]) -> date | None:
    validity = dispense.get("validityPeriod")
    for raw in ((validity or {}).get("start") if isinstance(validity, dict) else None,
                request.get("authoredOn")):
        if isinstance(raw, str) and len(raw) >= 10:
            try:
                when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                try:
                    return date.fromisoformat(raw[:10])
                except ValueError:
                    continue
            return (when.astimezone(UTC) if when.tzinfo else when).date()
    return None


def supply_of(request: dict[str, Any]) -> Supply:
    dispense = request.get("dispenseRequest")
    if not isinstance(dispense, dict):
        return Supply(reason="no dispenseRequest")
    start = _start(request, dispense)
    if start is None:
        return Supply(reason="no start: neither dispenseRequest.validityPeriod.start nor "
                             "authoredOn")
    days, reason = _duration_days(dispense.get("expectedSupplyDuration"))
    if days is None and "expectedSupplyDuration" in dispense:
        return Supply(start=start, reason=reason)  # given but unusable: do not guess
    if days is None:
        days, reason = _quantity_days(request, dispense)
    if days is None:
        return Supply(start=start, reason=reason)
    if days > MAX_SUPPLY_DAYS:
        return Supply(start=start, reason=f"a supply of {days:.0f} days is implausible")
    repeats = dispense.get("numberOfRepeatsAllowed")
    fills = 1 + (repeats if isinstance(repeats, int) and not isinstance(repeats, bool)
                 and repeats > 0 else 0)
    return Supply(start=start, days=days, fills=fills)
