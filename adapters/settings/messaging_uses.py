"""Settings of the patient uses of messaging (resolvers/messaging_uses).

* ``CARI_APPOINTMENT_REMINDER_OFFSETS`` ("24h,2h"): how long before an appointment's start
  each reminder goes; ``m``, ``h`` or ``d`` units, at most 30 days, at most 5 of them.
* ``CARI_APPOINTMENT_REMINDER_TEMPLATE`` ("appointment_reminder"; empty: no reminders).
* ``CARI_APPOINTMENT_CONFIRMATION_TEMPLATE`` (empty: no confirmation when booked).
* ``CARI_LAB_RESULT_NOTIFY_TEMPLATE`` (empty: off): "your results are ready at ...".
* ``CARI_REFILL_REMINDER_TEMPLATE`` ("refill_reminder"; empty: off).
* ``CARI_REFILL_REMINDER_DAYS`` (3): how many days before the supply runs out.
* ``CARI_REFILL_REMINDER_HOUR_UTC`` (9): the hour of that day the reminder goes.
* ``CARI_PATIENT_MESSAGE_LANGUAGE`` ("en"): the templates' registered language.
* ``CARI_PATIENT_MESSAGE_FACILITY``: the place named in the templates (an Appointment's
  Location participant's display wins for its reminders).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta

from resolvers.messaging_uses.model import MessagingUsesConfig

UNITS = {"m": 60, "h": 3600, "d": 86_400}
MAX_OFFSET = timedelta(days=30)
TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")  # WhatsApp's template names


def _offsets(raw: str, problems: list[str]) -> tuple[timedelta, ...]:
    name = "CARI_APPOINTMENT_REMINDER_OFFSETS"
    offsets: list[timedelta] = []
    for part in (p.strip().lower() for p in raw.split(",") if p.strip()):
        found = re.fullmatch(r"(\d{1,5})\s*([mhd])", part)
        offset = timedelta(seconds=int(found[1]) * UNITS[found[2]]) if found else None
        if offset is None or not timedelta(0) < offset <= MAX_OFFSET:
            problems.append(f"{name} entry {part!r}: expected a duration such as 24h, 90m or "
                            "2d, more than 0 and at most 30d")
            continue
        offsets.append(offset)
    if len(offsets) > 5:
        problems.append(f"{name}: at most 5 reminders per appointment")
    return tuple(sorted(set(offsets), reverse=True))


def _template(env: Mapping[str, str], name: str, default: str, problems: list[str]) -> str:
    value = env.get(name, default).strip()
    if value and not TEMPLATE_NAME.fullmatch(value):
        problems.append(f"{name}={value!r}: a WhatsApp template name (lowercase letters, "
                        "digits and underscores)")
        return ""
    return value


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int,
           problems: list[str]) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        problems.append(f"{name}={raw!r}: expected a whole number from {low} to {high}")
        return default
    return int(raw)


def load_messaging_uses_settings(env: Mapping[str, str],
                                 problems: list[str]) -> MessagingUsesConfig:
    language = env.get("CARI_PATIENT_MESSAGE_LANGUAGE", "en").strip() or "en"
    if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", language):
        problems.append(f"CARI_PATIENT_MESSAGE_LANGUAGE={language!r}: a template language "
                        "code such as en, fr, sw or en_US")
    facility = env.get("CARI_PATIENT_MESSAGE_FACILITY", "").strip()
    if len(facility) > 60:
        problems.append("CARI_PATIENT_MESSAGE_FACILITY: at most 60 characters")
    return MessagingUsesConfig(
        language=language, facility_name=facility[:60],
        appointment_offsets=_offsets(env.get("CARI_APPOINTMENT_REMINDER_OFFSETS", "24h,2h"),
                                     problems),
        appointment_reminder_template=_template(
            env, "CARI_APPOINTMENT_REMINDER_TEMPLATE", "appointment_reminder", problems),
        appointment_confirmation_template=_template(
            env, "CARI_APPOINTMENT_CONFIRMATION_TEMPLATE", "", problems),
        lab_result_template=_template(env, "CARI_LAB_RESULT_NOTIFY_TEMPLATE", "", problems),
        refill_template=_template(env, "CARI_REFILL_REMINDER_TEMPLATE", "refill_reminder",
                                  problems),
        refill_days_before=_whole(env, "CARI_REFILL_REMINDER_DAYS", 3, 0, 60, problems),
        refill_send_hour_utc=_whole(env, "CARI_REFILL_REMINDER_HOUR_UTC", 9, 0, 23, problems))
