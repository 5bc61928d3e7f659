"""FHIR date/dateTime/instant values as half-open UTC ranges [lo, hi)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DATE = re.compile(
    r"^(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})(T(?P<H>\d{2}):(?P<M>\d{2})"
    r"(:(?P<S>\d{2})(\.(?P<f>\d+))?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def date_range(text: str) -> tuple[datetime, datetime] | None:
    """The instant range a FHIR date value covers, or None when it is not a date."""
    match = _DATE.match(text.strip())
    if not match:
        return None
    g = match.groupdict()
    try:
        year = int(g["y"])
        if g["m"] is None:
            return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
        month = int(g["m"])
        if g["d"] is None:
            lo = datetime(year, month, 1, tzinfo=UTC)
            hi = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
            return lo, hi
        day = int(g["d"])
        if g["H"] is None:
            lo = datetime(year, month, day, tzinfo=UTC)
            return lo, lo + timedelta(days=1)
        tz = UTC
        if g["tz"] and g["tz"] != "Z":
            sign = 1 if g["tz"][0] == "+" else -1
            hours, minutes = int(g["tz"][1:3]), int(g["tz"][4:6])
            from datetime import timezone

            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        if g["S"] is None:
            lo = datetime(year, month, day, int(g["H"]), int(g["M"]), tzinfo=tz)
            return lo.astimezone(UTC), (lo + timedelta(minutes=1)).astimezone(UTC)
        micro = int((g["f"] or "0")[:6].ljust(6, "0"))
        lo = datetime(year, month, day, int(g["H"]), int(g["M"]), int(g["S"]), micro, tzinfo=tz)
        step = timedelta(microseconds=1) if g["f"] else timedelta(seconds=1)
        return lo.astimezone(UTC), (lo + step).astimezone(UTC)
    except ValueError:
        return None
