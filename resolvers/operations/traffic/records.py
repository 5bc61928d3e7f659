"""Traffic buckets as the store counts them, and the windows the overview offers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol


class Window(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


# Each window's length and bucket width: about 60-100 points per chart.
WINDOWS: dict[Window, tuple[timedelta, int]] = {
    Window.HOUR: (timedelta(hours=1), 60),
    Window.DAY: (timedelta(days=1), 15 * 60),
    Window.WEEK: (timedelta(days=7), 2 * 3600),
}

# The channel families the overview groups channels into, in display order.
FAMILIES = ("hl7", "webhook", "outbox", "fhir", "cross-border", "dhis2", "notifications")

# Channels whose latency is stored (from what to what), by family. The others have none:
# HL7 answers are timed only by the HTTP metrics (/metrics), FHIR and cross-border too.
LATENCY_MEANING = {
    "webhook": "received → processed",
    "outbox": "queued → delivered",
    "dhis2": "queued → DHIS2's answer",
    "notifications": "scheduled → provider status",
}


@dataclass(frozen=True)
class TrafficBucket:
    """One channel's messages in [index * width, (index + 1) * width) seconds since the epoch."""

    channel: str
    index: int
    count: int
    errors: int
    latency_ms_sum: float
    latency_count: int


class TrafficStore(Protocol):
    async def buckets(self, since: datetime, width_seconds: int) -> list[TrafficBucket]:
        """Every channel's non-empty buckets from ``since`` on."""
        ...


def family(channel: str) -> str:
    head = channel.split(":", 1)[0]
    if head.startswith("hl7"):
        return "hl7"
    return head if head in FAMILIES else "outbox"
