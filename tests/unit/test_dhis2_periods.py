"""DHIS2 period identifiers: every documented type, ISO weeks at year boundaries."""

from __future__ import annotations

from datetime import date

import pytest

from resolvers.public_health.periods import (
    InvalidPeriod,
    PeriodType,
    last_complete,
    parse_period,
    period_containing,
    weeks_in_year,
)


@pytest.mark.parametrize(("text", "start", "end"), [
    ("20260115", date(2026, 1, 15), date(2026, 1, 16)),
    ("2026W5", date(2026, 1, 26), date(2026, 2, 2)),  # the documented example
    ("2026W1", date(2025, 12, 29), date(2026, 1, 5)),  # 1 January 2026 is a Thursday
    ("2026W53", date(2026, 12, 28), date(2027, 1, 4)),  # 2026 has 53 ISO weeks
    ("2027W1", date(2027, 1, 4), date(2027, 1, 11)),
    ("2026WedW5", date(2026, 1, 28), date(2026, 2, 4)),
    ("2026SunW1", date(2026, 1, 4), date(2026, 1, 11)),
    ("2026BiW3", date(2026, 1, 26), date(2026, 2, 9)),
    ("202601", date(2026, 1, 1), date(2026, 2, 1)),
    ("202601B", date(2026, 1, 1), date(2026, 3, 1)),
    ("2026Q1", date(2026, 1, 1), date(2026, 4, 1)),
    ("2026S2", date(2026, 7, 1), date(2027, 1, 1)),
    ("2026AprilS1", date(2026, 4, 1), date(2026, 10, 1)),
    ("2026NovS1", date(2025, 11, 1), date(2026, 5, 1)),
    ("2026", date(2026, 1, 1), date(2027, 1, 1)),
    ("2026April", date(2026, 4, 1), date(2027, 4, 1)),
    ("2026July", date(2026, 7, 1), date(2027, 7, 1)),
])
def test_each_documented_form_is_read_and_written_back(text: str, start: date,
                                                       end: date) -> None:
    period = parse_period(text)
    assert (period.start, period.end) == (start, end)
    assert period.id == text
    assert parse_period(period.next().id).start == end
    assert period.previous().end == start


def test_weeks_at_year_boundaries() -> None:
    assert period_containing(date(2027, 1, 1), PeriodType.WEEKLY).id == "2026W53"
    assert period_containing(date(2026, 1, 1), PeriodType.WEEKLY).id == "2026W1"
    assert period_containing(date(2024, 12, 30), PeriodType.WEEKLY).id == "2025W1"
    assert period_containing(date(2021, 1, 3), PeriodType.WEEKLY).id == "2020W53"
    assert (weeks_in_year(2026), weeks_in_year(2025), weeks_in_year(2020)) == (53, 52, 53)
    assert parse_period("2026W05").id == "2026W5"  # read padded, written as documented


def test_last_complete_period() -> None:
    today = date(2026, 4, 3)
    assert last_complete(PeriodType.QUARTERLY, today).id == "2026Q1"
    assert last_complete(PeriodType.MONTHLY, today).id == "202603"
    assert last_complete(PeriodType.WEEKLY, today).id == "2026W13"  # 30 Mar - 5 Apr is W14
    assert last_complete(PeriodType.YEARLY, today).id == "2025"


@pytest.mark.parametrize("text", ["2025W53", "2026W0", "20260230", "202602B", "2026Q5",
                                  "202613", "26Q1", "2026W", "", "2026 Q1", "1800"])
def test_what_is_not_a_period_is_refused(text: str) -> None:
    with pytest.raises(InvalidPeriod):
        parse_period(text)
