"""What syndromic surveillance needs from storage and from DHIS2."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

from resolvers.public_health.surveillance.model import SyndromeCount


class SyndromeCounts(Protocol):
    async def syndrome_days(self, start: date, end: date,
                            organization_ids: Sequence[str]) -> list[SyndromeCount]:
        """Conditions per facility, syndrome and day, onset in [start, end); one GROUP BY."""
        ...

    async def parents(self) -> dict[str, str | None]:
        """Every Organization's parent (``partOf``), to roll facilities up to districts."""
        ...


class TrackerInstance(Protocol):
    async def push_tracker(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """``POST /api/tracker`` (async=false, importStrategy CREATE_AND_UPDATE, atomicMode
        OBJECT): DHIS2's status and import report (200 or 409); refusals and outages raise
        Dhis2Refused / Dhis2Unavailable."""
        ...
