"""What the patient uses of messaging are configured with (``CARI_APPOINTMENT_*``,
``CARI_LAB_RESULT_NOTIFY_*``, ``CARI_REFILL_*``, ``CARI_PATIENT_MESSAGE_*``), and the outbox
destinations their work arrives on.

A use whose template name is empty is off. The templates carry no patient data beyond what
they need: an appointment's date, time and place; a facility's name; a date. Never a name,
a medication nor a result value (README, "Patient messaging uses").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# Outbox destinations: FHIR versions of the watched types (resolvers/fhir/writer.py watchers)
# and lab results linked to a patient (resolvers/labs).
APPOINTMENT_WATCH = "appointment_reminders"
REFILL_WATCH = "refill_reminders"

# Appointment states that get reminders; any other state cancels the pending ones.
ACTIVE_APPOINTMENT = frozenset(("proposed", "pending", "booked"))
# Prescription states that get refill reminders; stopped/completed/cancelled/on-hold/...
# cancel them.
ACTIVE_PRESCRIPTION = frozenset(("active",))


@dataclass(frozen=True)
class MessagingUsesConfig:
    language: str = "en"  # the registered templates' language code
    facility_name: str = ""  # where appointments happen and results are read, in templates
    appointment_offsets: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=2))
    appointment_reminder_template: str = "appointment_reminder"
    appointment_confirmation_template: str = ""  # "": no confirmation on booking
    lab_result_template: str = ""  # "": no lab-result-ready messages
    refill_template: str = "refill_reminder"
    refill_days_before: int = 3
    refill_send_hour_utc: int = 9  # refill reminders go at this hour (UTC) on their day
    refill_max_fills: int = 12  # reminders planned for at most this many fills ahead

    @property
    def appointments_on(self) -> bool:
        return bool(self.appointment_reminder_template or self.appointment_confirmation_template)

    @property
    def lab_results_on(self) -> bool:
        return bool(self.lab_result_template)

    @property
    def refills_on(self) -> bool:
        return bool(self.refill_template)


def offset_label(offset: timedelta) -> str:
    """``24h``, ``90m``, ``2d``: how an offset is written in a message key."""
    seconds = int(offset.total_seconds())
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"
