"""Public health's use cases and outbox destination, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from resolvers.audit.trail import AuditTrail
from resolvers.outbox.delivery import DeliveryHandler
from resolvers.public_health.dashboard import IndicatorFeeds
from resolvers.public_health.dhis2.export import Dhis2Export
from resolvers.public_health.dhis2.metadata import Dhis2MetadataCheck
from resolvers.public_health.dhis2.org_units import OrgUnitImport
from resolvers.public_health.dhis2.push import DHIS2_DESTINATION, Dhis2PushDelivery, Dhis2Pushes
from resolvers.public_health.national import NationalDataset
from resolvers.public_health.ports import Dhis2Adapters
from resolvers.public_health.surveillance.export import SurveillanceExport
from resolvers.public_health.surveillance.wiring import build_surveillance


@dataclass(frozen=True)
class PublicHealthServices:
    dhis2_export: Dhis2Export
    dhis2_pushes: Dhis2Pushes
    national: NationalDataset
    metadata_check: Dhis2MetadataCheck
    handlers: dict[str, DeliveryHandler]  # outbox destinations
    feeds: IndicatorFeeds | None = None  # use case 6, dashboard feeds
    org_units: OrgUnitImport | None = None  # DHIS2's hierarchy into the directory
    surveillance: SurveillanceExport | None = None  # use case 3 (with a syndrome counter)


def build_public_health(adapters: Dhis2Adapters, audit: AuditTrail,
                        now: Callable[[], datetime]) -> PublicHealthServices:
    # Coverage denominators come from the first configured instance.
    export = Dhis2Export(adapters.mapping, adapters.aggregates, audit, now,
                         population=next(iter(adapters.instances.values()), None))
    pushes = Dhis2Pushes(export, adapters.pushes, adapters.instances, adapters.guard, audit,
                         now)
    surveillance = build_surveillance(adapters, export, pushes, audit, now)
    return PublicHealthServices(
        feeds=IndicatorFeeds(adapters.mapping, adapters.aggregates, audit, now),
        org_units=OrgUnitImport(adapters.mapping, adapters.instances, adapters.guard, audit, now),
        dhis2_export=export,
        dhis2_pushes=pushes, surveillance=surveillance[0],
        metadata_check=Dhis2MetadataCheck(adapters.mapping, adapters.instances, audit, now),
        national=NationalDataset(adapters.aggregates, audit, now,
                                 threshold=adapters.suppression_threshold),
        handlers={DHIS2_DESTINATION: Dhis2PushDelivery(
            adapters.pushes, adapters.instances, now,
            max_attempts=adapters.outbox_max_attempts), **surveillance[1]})
