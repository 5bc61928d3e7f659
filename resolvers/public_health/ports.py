"""What the public-health use cases need from storage: counts made by the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from resolvers.public_health.dhis2.ports import Dhis2Instance, OutboundGuard, PushStore
from resolvers.public_health.model import (
    CaseCount,
    Dhis2Mapping,
    DoseCount,
    IndicatorCount,
    OrgNode,
    RdtCount,
)
from resolvers.public_health.surveillance.ports import SyndromeCounts


class Aggregates(Protocol):
    async def malaria_rdt(self, start: date, end: date,
                          organization_ids: Sequence[str] | None) -> list[RdtCount]:
        """Malaria RDTs done and positive per facility (a patient's organization), for
        Observations effective in [start, end); one GROUP BY, no rows read into Python.
        ``organization_ids`` None: every facility."""
        ...

    async def idsr_cases(self, start: date, end: date,
                         organization_ids: Sequence[str] | None) -> list[CaseCount]:
        """IDSR cases per facility, ICD-10 group, age band and sex, for Conditions with onset
        in [start, end); one GROUP BY. ``organization_ids`` None: every facility."""
        ...

    async def vaccine_doses(self, start: date, end: date,
                            organization_ids: Sequence[str] | None) -> list[DoseCount]:
        """Completed Immunizations per facility, antigen and dose number, occurrence in
        [start, end); one GROUP BY."""
        ...

    async def mch_counts(self, start: date, end: date,
                         organization_ids: Sequence[str] | None) -> list[IndicatorCount]:
        """Maternal and child health counts (MCH_COUNTS) per facility for [start, end); one
        GROUP BY."""
        ...

    async def organizations(self) -> list[OrgNode]:
        """Every Organization with its parent (the hierarchy rolls facilities up)."""
        ...


@dataclass(frozen=True)
class Dhis2Adapters:
    """What the composition root hands the DHIS2 use cases: the mapping (None when not
    configured), the aggregates, the push store, the configured instances by URL, and the
    outbound allow-list's guard."""

    mapping: Dhis2Mapping | None
    aggregates: Aggregates
    pushes: PushStore
    instances: Mapping[str, Dhis2Instance]
    guard: OutboundGuard
    suppression_threshold: int = 5  # the national dataset's small-cell threshold
    outbox_max_attempts: int | None = None  # a push's last delivery attempt is its end
    syndromes: SyndromeCounts | None = None  # use case 3's daily syndrome counts
