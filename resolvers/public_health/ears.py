"""CDC EARS aberration detection (C1, C2, C3) on a daily count series: pure functions.

Definitions (Hutwagner et al., "The bioterrorism preparedness and response Early Aberration
Reporting System (EARS)", J Urban Health 2003; Fricker, Hegler and Dunfee, Stat Med 2008):

- C1 ("C1-MILD"): baseline = the 7 days before day t (t-7 .. t-1);
  ``C1_t = (Y_t - mean) / sd``; an alert when ``C1_t > 3`` (the count exceeds mean + 3 SD).
- C2 ("C2-MEDIUM"): the same with a 2-day guard band: baseline t-9 .. t-3;
  an alert when ``C2_t > 3``.
- C3 ("C3-ULTRA"): ``C3_t = sum over i = t-2 .. t of max(0, C2_i - 1)``, the last three C2
  statistics each less one (the literature's form); an alert when ``C3_t > 2``.

``sd`` is the sample standard deviation (n - 1) of the baseline, raised to ``sd_floor`` when
lower, so that a flat baseline (all zeros) does not turn a single case into an infinite
statistic. A day without a full baseline in the series gets no statistic (None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import fmean, stdev

BASELINE_DAYS = 7
GUARD_DAYS = 2
THRESHOLD = 3.0  # C1, C2: mean + 3 SD
C3_THRESHOLD = 2.0
SD_FLOOR = 1.0


class Method(StrEnum):
    C1 = "C1"
    C2 = "C2"
    C3 = "C3"


@dataclass(frozen=True)
class Statistic:
    day: int  # index in the series
    count: int
    expected: float  # the baseline mean
    sd: float  # after the floor
    value: float  # the method's statistic
    alert: bool


def _one(series: Sequence[int], t: int, guard: int, sd_floor: float) -> Statistic | None:
    start = t - guard - BASELINE_DAYS
    if start < 0 or t >= len(series):
        return None
    baseline = [float(x) for x in series[start:t - guard]]
    mean = fmean(baseline)
    sd = max(stdev(baseline), sd_floor)
    value = (series[t] - mean) / sd
    return Statistic(t, series[t], mean, sd, value, value > THRESHOLD)


def c1(series: Sequence[int], t: int, sd_floor: float = SD_FLOOR) -> Statistic | None:
    return _one(series, t, 0, sd_floor)


def c2(series: Sequence[int], t: int, sd_floor: float = SD_FLOOR) -> Statistic | None:
    return _one(series, t, GUARD_DAYS, sd_floor)


def c3(series: Sequence[int], t: int, sd_floor: float = SD_FLOOR) -> Statistic | None:
    found = [c2(series, i, sd_floor) for i in (t - 2, t - 1, t)]
    if any(s is None for s in found):
        return None
    last = found[-1]
    assert last is not None
    value = sum(max(0.0, s.value - 1) for s in found if s is not None)
    return Statistic(t, last.count, last.expected, last.sd, value, value > C3_THRESHOLD)


def statistic(method: Method, series: Sequence[int], t: int,
              sd_floor: float = SD_FLOOR) -> Statistic | None:
    return {Method.C1: c1, Method.C2: c2, Method.C3: c3}[method](series, t, sd_floor)


def history_days(method: Method) -> int:
    """How many days before the first day a method reads."""
    return {Method.C1: BASELINE_DAYS, Method.C2: BASELINE_DAYS + GUARD_DAYS,
            Method.C3: BASELINE_DAYS + GUARD_DAYS + 2}[method]
