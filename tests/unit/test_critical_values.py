import pytest

from resolvers.labs.critical_values import CRITICAL_LIMITS, assess


@pytest.mark.parametrize("code, value, unit, critical, direction", [
    ("2823-3", 6.9, "mmol/L", True, "high"),
    ("2823-3", 2.5, "mmol/l", True, "low"),
    ("2823-3", 4.1, "mmol/L", False, None),
    ("2951-2", 118, "mmol/L", True, "low"),
    ("15074-8", 1.9, "mmol/L", True, "low"),
    ("2345-7", 500, "mg/dL", True, "high"),
    ("718-7", 5.2, "g/dL", True, "low"),
    ("777-3", 15, "10^3/uL", True, "low"),
    ("6690-2", 60, "10*3/uL", True, "high"),
    ("34714-6", 6.1, "{INR}", True, "high"),
    ("34714-6", 2.5, "", False, None),
])
def test_table_limits(code, value, unit, critical, direction) -> None:
    finding = assess(code, value, unit)
    assert (finding.critical, finding.direction) == (critical, direction)
    assert finding.source


def test_sender_flags_are_always_critical() -> None:
    for flag, direction in (("HH", "high"), ("LL", "low"), ("AA", "abnormal")):
        finding = assess("99999-9", None, "", [flag])
        assert finding.critical and finding.direction == direction


def test_different_units_are_not_compared_blindly() -> None:
    finding = assess("2823-3", 6.9, "mg/dL")
    assert not finding.critical and "unit" in finding.reason


def test_every_limit_has_a_source_and_a_bound() -> None:
    for limit in CRITICAL_LIMITS:
        assert limit.source and (limit.low is not None or limit.high is not None)
        if limit.low is not None and limit.high is not None:
            assert limit.low < limit.high
