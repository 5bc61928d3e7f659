"""DHIS2 periods: parse, write and step through the period identifiers of the Web API.

Every period is a half-open range of dates [start, end). The forms are DHIS2's own
(standards.md 3.5, and the server's ``GET /api/periodTypes``):

| type | form | example |
|---|---|---|
| Daily | ``yyyyMMdd`` | ``20260115`` |
| Weekly (ISO, Monday start), Wed/Thu/Sat/Sun start | ``yyyyWn``, ``yyyyWedWn`` ... | ``2026W5`` |
| BiWeekly | ``yyyyBiWn`` | ``2026BiW3`` |
| Monthly, BiMonthly | ``yyyyMM``, ``yyyyMMB`` | ``202601``, ``202601B`` |
| Quarterly | ``yyyyQn`` | ``2026Q1`` |
| SixMonthly (Jan, April, Nov start) | ``yyyySn``, ``yyyyAprilSn``, ``yyyyNovSn`` | ``2026S1`` |
| Yearly, Financial (April, July, Oct, Nov start) | ``yyyy``, ``yyyyApril`` ... | ``2026April`` |

Weeks are numbered the ISO way, generalised to the week's first weekday: week 1 is the week
(starting on that weekday) holding the 4th day after it, i.e. the one that has most of its
days in the new year. So 2026-01-01 (a Thursday) is in 2026W1, which starts on Monday
2025-12-29, and 2027-01-01 (a Friday) is in 2026W53. Week numbers are written without zero
padding, as DHIS2 documents them; ``2026W05`` is read too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class PeriodType(StrEnum):
    DAILY = "Daily"
    WEEKLY = "Weekly"
    WEEKLY_WEDNESDAY = "WeeklyWednesday"
    WEEKLY_THURSDAY = "WeeklyThursday"
    WEEKLY_SATURDAY = "WeeklySaturday"
    WEEKLY_SUNDAY = "WeeklySunday"
    BI_WEEKLY = "BiWeekly"
    MONTHLY = "Monthly"
    BI_MONTHLY = "BiMonthly"
    QUARTERLY = "Quarterly"
    SIX_MONTHLY = "SixMonthly"
    SIX_MONTHLY_APRIL = "SixMonthlyApril"
    SIX_MONTHLY_NOV = "SixMonthlyNov"
    YEARLY = "Yearly"
    FINANCIAL_APRIL = "FinancialApril"
    FINANCIAL_JULY = "FinancialJuly"
    FINANCIAL_OCT = "FinancialOct"
    FINANCIAL_NOV = "FinancialNov"


class InvalidPeriod(ValueError):
    """Not a DHIS2 period identifier (the message says what was expected)."""


# Weekly types: (prefix between year and "W", first weekday with Monday = 0)
_WEEKLY = {
    PeriodType.WEEKLY: ("", 0), PeriodType.WEEKLY_WEDNESDAY: ("Wed", 2),
    PeriodType.WEEKLY_THURSDAY: ("Thu", 3), PeriodType.WEEKLY_SATURDAY: ("Sat", 5),
    PeriodType.WEEKLY_SUNDAY: ("Sun", 6),
}
# Six-monthly types: (infix, first month, year shift). A November year is named after the
# year it ends in: 2026NovS1 is November 2025 to April 2026, 2026NovS2 May to October 2026.
_SIX_MONTHLY = {PeriodType.SIX_MONTHLY: ("", 1, 0), PeriodType.SIX_MONTHLY_APRIL: ("April", 4, 0),
                PeriodType.SIX_MONTHLY_NOV: ("Nov", 11, -1)}
# Financial years: (suffix, first month)
_FINANCIAL = {PeriodType.FINANCIAL_APRIL: ("April", 4), PeriodType.FINANCIAL_JULY: ("July", 7),
              PeriodType.FINANCIAL_OCT: ("Oct", 10), PeriodType.FINANCIAL_NOV: ("Nov", 11)}


@dataclass(frozen=True, order=True)
class Period:
    """One DHIS2 period: its type and the dates it covers, [start, end)."""

    start: date
    end: date
    type: PeriodType

    @property
    def id(self) -> str:
        return _format(self)

    def __str__(self) -> str:
        return self.id

    def next(self) -> Period:
        return period_containing(self.end, self.type)

    def previous(self) -> Period:
        return period_containing(self.start - timedelta(days=1), self.type)

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _week_one(year: int, weekday: int) -> date:
    """The first day of week 1 of ``year``: the week starting on ``weekday`` that holds
    the 4th day after its start (for ISO weeks: the week of 4 January)."""
    jan4 = date(year, 1, 4)
    return jan4 - timedelta(days=(jan4.weekday() - weekday) % 7)


def _week_of(day: date, weekday: int) -> tuple[int, int]:
    """(week-year, week number) of ``day`` for weeks starting on ``weekday``."""
    start = day - timedelta(days=(day.weekday() - weekday) % 7)
    year = (start + timedelta(days=3)).year  # the year holding most of the week
    return year, (start - _week_one(year, weekday)).days // 7 + 1


def weeks_in_year(year: int, weekday: int = 0) -> int:
    return (_week_one(year + 1, weekday) - _week_one(year, weekday)).days // 7


def period_containing(day: date, period_type: PeriodType) -> Period:
    """The period of ``period_type`` that holds ``day``."""
    t = period_type
    if t is PeriodType.DAILY:
        return Period(day, day + timedelta(days=1), t)
    if t in _WEEKLY:
        weekday = _WEEKLY[t][1]
        start = day - timedelta(days=(day.weekday() - weekday) % 7)
        return Period(start, start + timedelta(days=7), t)
    if t is PeriodType.BI_WEEKLY:
        year, week = _week_of(day, 0)
        start = _week_one(year, 0) + timedelta(weeks=(week - 1) // 2 * 2)
        end = min(start + timedelta(weeks=2), _week_one(year + 1, 0))
        return Period(start, end, t)
    if t is PeriodType.YEARLY:
        return Period(date(day.year, 1, 1), date(day.year + 1, 1, 1), t)
    months, first = {PeriodType.MONTHLY: (1, 1), PeriodType.BI_MONTHLY: (2, 1),
                     PeriodType.QUARTERLY: (3, 1)}.get(t, (0, 0))
    if not months:
        if t in _SIX_MONTHLY:
            months, first = 6, _SIX_MONTHLY[t][1]
        else:
            months, first = 12, _FINANCIAL[t][1]
    offset = (day.month - first) % months  # months since the period began
    start = _add_months(date(day.year, day.month, 1), -offset)
    return Period(start, _add_months(start, months), t)


def last_complete(period_type: PeriodType, today: date) -> Period:
    """The newest period of ``period_type`` that ended before ``today``."""
    return period_containing(today, period_type).previous()


_PATTERNS: list[tuple[re.Pattern[str], PeriodType | None]] = [
    (re.compile(r"(\d{4})(\d{2})(\d{2})"), PeriodType.DAILY),
    (re.compile(r"(\d{4})(Wed|Thu|Sat|Sun)?W(\d{1,2})"), None),
    (re.compile(r"(\d{4})BiW(\d{1,2})"), PeriodType.BI_WEEKLY),
    (re.compile(r"(\d{4})(\d{2})B"), PeriodType.BI_MONTHLY),
    (re.compile(r"(\d{4})(\d{2})"), PeriodType.MONTHLY),
    (re.compile(r"(\d{4})Q([1-4])"), PeriodType.QUARTERLY),
    (re.compile(r"(\d{4})(April|Nov)?S([12])"), None),
    (re.compile(r"(\d{4})(April|July|Oct|Nov)"), None),
    (re.compile(r"(\d{4})"), PeriodType.YEARLY),
]


def parse_period(text: str) -> Period:
    """A DHIS2 period identifier as a Period; InvalidPeriod for anything else (a date that
    does not exist, week 53 of a 52-week year, a bi-monthly period starting in an even
    month)."""
    for pattern, period_type in _PATTERNS:
        match = pattern.fullmatch(text.strip())
        if match is None:
            continue
        try:
            return _build(match, period_type)
        except ValueError as exc:
            raise InvalidPeriod(f"{text!r} is not a valid period: {exc}") from None
    raise InvalidPeriod(
        f"{text!r} is not a DHIS2 period (e.g. 20260115, 2026W5, 202601, 2026Q1, 2026S1, "
        "2026, 2026April)")


def _build(match: re.Match[str], period_type: PeriodType | None) -> Period:
    groups = match.groups()
    year = int(groups[0])
    if year < 1900:
        raise ValueError("the year is before 1900")
    if period_type is PeriodType.DAILY:
        return period_containing(date(year, int(groups[1]), int(groups[2])), period_type)
    if period_type is PeriodType.BI_MONTHLY:
        month = int(groups[1])
        if month % 2 != 1:
            raise ValueError("a bi-monthly period starts in an odd month")
        return period_containing(date(year, month, 1), period_type)
    if period_type is PeriodType.MONTHLY:
        return period_containing(date(year, int(groups[1]), 1), period_type)
    if period_type is PeriodType.QUARTERLY:
        return period_containing(date(year, 3 * int(groups[1]) - 2, 1), period_type)
    if period_type is PeriodType.YEARLY:
        return period_containing(date(year, 1, 1), period_type)
    if period_type is PeriodType.BI_WEEKLY:
        number = int(groups[1])
        if not 1 <= number <= (weeks_in_year(year) + 1) // 2:
            raise ValueError(f"{year} has {(weeks_in_year(year) + 1) // 2} bi-weeks")
        return period_containing(_week_one(year, 0) + timedelta(weeks=2 * (number - 1)),
                                 period_type)
    text = match.group(0)
    if "W" in text:  # weekly, with an optional start day
        weekly = next(t for t, (prefix, _d) in _WEEKLY.items() if prefix == (groups[1] or ""))
        weekday, number = _WEEKLY[weekly][1], int(groups[2])
        if not 1 <= number <= weeks_in_year(year, weekday):
            raise ValueError(f"{year} has {weeks_in_year(year, weekday)} weeks")
        return period_containing(_week_one(year, weekday) + timedelta(weeks=number - 1), weekly)
    if text.endswith(("S1", "S2")):
        six = next(t for t, (infix, _m, _s) in _SIX_MONTHLY.items()
                   if infix == (groups[1] or ""))
        _infix, first, shift = _SIX_MONTHLY[six]
        return period_containing(
            _add_months(date(year + shift, first, 1), 6 * (int(groups[2]) - 1)), six)
    financial = next(t for t, (suffix, _m) in _FINANCIAL.items() if suffix == groups[1])
    return period_containing(date(year, _FINANCIAL[financial][1], 1), financial)


def _format(p: Period) -> str:
    t, start = p.type, p.start
    if t is PeriodType.DAILY:
        return start.strftime("%Y%m%d")
    if t in _WEEKLY:
        prefix, weekday = _WEEKLY[t]
        year, week = _week_of(start, weekday)
        return f"{year}{prefix}W{week}"
    if t is PeriodType.BI_WEEKLY:
        year, week = _week_of(start, 0)
        return f"{year}BiW{(week + 1) // 2}"
    if t is PeriodType.MONTHLY:
        return start.strftime("%Y%m")
    if t is PeriodType.BI_MONTHLY:
        return start.strftime("%Y%m") + "B"
    if t is PeriodType.QUARTERLY:
        return f"{start.year}Q{(start.month - 1) // 3 + 1}"
    if t is PeriodType.YEARLY:
        return str(start.year)
    if t in _SIX_MONTHLY:
        infix, first, shift = _SIX_MONTHLY[t]
        year = (start.year if start.month >= first else start.year - 1) - shift
        half = 1 if start.month == first else 2
        return f"{year}{infix}S{half}"
    return f"{start.year}{_FINANCIAL[t][0]}"
