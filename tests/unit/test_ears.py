"""EARS C1, C2, C3 on known series."""

from __future__ import annotations

import pytest

from resolvers.public_health.ears import Method, c1, c2, c3, history_days, statistic


def test_flat_zero_baseline_needs_more_than_three_cases() -> None:
    # sd 0 raised to the floor (1): a single case is no alert, four are.
    assert c1([0] * 7 + [1], 7).alert is False  # type: ignore[union-attr]
    assert c1([0] * 7 + [3], 7).alert is False  # type: ignore[union-attr]
    found = c1([0] * 7 + [4], 7)
    assert found is not None and found.alert and found.value == 4.0 and found.sd == 1.0


def test_c1_spike_against_known_baseline() -> None:
    series = [2, 4, 2, 4, 2, 4, 2, 20]  # mean 20/7, sample sd 1.069
    found = c1(series, 7)
    assert found is not None
    assert found.expected == pytest.approx(20 / 7)
    assert found.sd == pytest.approx(1.0690, abs=1e-4)
    assert found.value == pytest.approx((20 - 20 / 7) / 1.0690, abs=1e-3)
    assert found.alert
    assert c1([*series[:-1], 4], 7).alert is False  # type: ignore[union-attr]


def test_c2_guard_band_ignores_the_two_days_before() -> None:
    # The two days before t are high; C2's baseline (t-9..t-3) does not see them.
    series = [1, 1, 1, 1, 1, 1, 1, 30, 30, 6]
    assert c2(series, 9).value == pytest.approx(5.0)  # type: ignore[union-attr]
    assert c2(series, 9).alert  # type: ignore[union-attr]
    assert c1(series, 9).alert is False  # type: ignore[union-attr]  # C1 sees the 30s
    assert c2(series, 8) is None  # no full baseline


def test_c3_sums_the_last_three_c2_over_one() -> None:
    series = [0] * 9 + [2, 3, 3]  # C2 values 2, 3, 3 over a flat zero baseline
    found = c3(series, 11)
    assert found is not None
    assert found.value == pytest.approx(1 + 2 + 2)
    assert found.alert
    assert c3([0] * 9 + [0, 0, 2], 11).alert is False  # type: ignore[union-attr]
    assert c3(series, 10) is None


def test_dispatch_and_history() -> None:
    series = [0] * 11 + [9]
    for method in Method:
        found = statistic(method, series, 11)
        assert found is not None and found.alert
    assert [history_days(m) for m in Method] == [7, 9, 11]
