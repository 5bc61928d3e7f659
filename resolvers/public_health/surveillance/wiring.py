"""Use case 3's export and its outbox destination, built with the other DHIS2 use cases."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import cast

from resolvers.audit.trail import AuditTrail
from resolvers.outbox.delivery import DeliveryHandler
from resolvers.public_health.dhis2.export import Dhis2Export
from resolvers.public_health.dhis2.push import Dhis2Pushes
from resolvers.public_health.ports import Dhis2Adapters
from resolvers.public_health.surveillance.export import (
    TRACKER_DESTINATION,
    SurveillanceExport,
    TrackerDelivery,
)
from resolvers.public_health.surveillance.ports import TrackerInstance


def build_surveillance(adapters: Dhis2Adapters, export: Dhis2Export, pushes: Dhis2Pushes,
                       audit: AuditTrail, now: Callable[[], datetime],
                       ) -> tuple[SurveillanceExport | None, dict[str, DeliveryHandler]]:
    if adapters.syndromes is None:
        return None, {}
    # The configured instances are DHIS2 clients, which also post tracker payloads.
    trackers = cast(Mapping[str, TrackerInstance], adapters.instances)
    return (SurveillanceExport(export, pushes, adapters.syndromes, adapters.pushes,
                               adapters.instances, audit, now),
            {TRACKER_DESTINATION: TrackerDelivery(adapters.pushes, trackers, now,
                                                  max_attempts=adapters.outbox_max_attempts)})
