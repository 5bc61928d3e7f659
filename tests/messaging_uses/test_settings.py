"""CARI_APPOINTMENT_*, CARI_LAB_RESULT_NOTIFY_TEMPLATE, CARI_REFILL_*, CARI_PATIENT_MESSAGE_*."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.settings import SettingsError, load_settings
from adapters.settings.messaging_uses import load_messaging_uses_settings


def test_defaults() -> None:
    problems: list[str] = []
    config = load_messaging_uses_settings({}, problems)
    assert problems == []
    assert config.appointment_offsets == (timedelta(hours=24), timedelta(hours=2))
    assert config.appointment_reminder_template == "appointment_reminder"
    assert not config.lab_results_on and config.refills_on and config.refill_days_before == 3


def test_values_are_read_and_offsets_sorted_longest_first() -> None:
    problems: list[str] = []
    config = load_messaging_uses_settings({
        "CARI_APPOINTMENT_REMINDER_OFFSETS": "90m, 2d,24h,24H",
        "CARI_APPOINTMENT_CONFIRMATION_TEMPLATE": "appointment_booked",
        "CARI_LAB_RESULT_NOTIFY_TEMPLATE": "results_ready",
        "CARI_REFILL_REMINDER_TEMPLATE": "", "CARI_REFILL_REMINDER_DAYS": "5",
        "CARI_REFILL_REMINDER_HOUR_UTC": "6", "CARI_PATIENT_MESSAGE_LANGUAGE": "sw",
        "CARI_PATIENT_MESSAGE_FACILITY": " Kibera Clinic "}, problems)
    assert problems == []
    assert config.appointment_offsets == (timedelta(days=2), timedelta(hours=24),
                                          timedelta(minutes=90))
    assert config.lab_results_on and not config.refills_on
    assert (config.refill_days_before, config.refill_send_hour_utc) == (5, 6)
    assert (config.language, config.facility_name) == ("sw", "Kibera Clinic")


@pytest.mark.parametrize(("env", "named"), [
    ({"CARI_APPOINTMENT_REMINDER_OFFSETS": "24"}, "CARI_APPOINTMENT_REMINDER_OFFSETS"),
    ({"CARI_APPOINTMENT_REMINDER_OFFSETS": "0h"}, "CARI_APPOINTMENT_REMINDER_OFFSETS"),
    ({"CARI_APPOINTMENT_REMINDER_OFFSETS": "31d"}, "CARI_APPOINTMENT_REMINDER_OFFSETS"),
    ({"CARI_APPOINTMENT_REMINDER_OFFSETS": "1h,2h,3h,4h,5h,6h"},
     "CARI_APPOINTMENT_REMINDER_OFFSETS"),
    ({"CARI_APPOINTMENT_REMINDER_TEMPLATE": "Appointment Reminder"},
     "CARI_APPOINTMENT_REMINDER_TEMPLATE"),
    ({"CARI_REFILL_REMINDER_DAYS": "-1"}, "CARI_REFILL_REMINDER_DAYS"),
    ({"CARI_REFILL_REMINDER_HOUR_UTC": "24"}, "CARI_REFILL_REMINDER_HOUR_UTC"),
    ({"CARI_PATIENT_MESSAGE_LANGUAGE": "english"}, "CARI_PATIENT_MESSAGE_LANGUAGE"),
    ({"CARI_PATIENT_MESSAGE_FACILITY": "x" * 61}, "CARI_PATIENT_MESSAGE_FACILITY"),
])
def test_bad_values_are_refused_by_name(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    assert any(p.startswith(named) for p in raised.value.problems), raised.value.problems
