"""The port a DHIS2 push goes out through."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from resolvers.outbox.model import NewOutboxMessage
from resolvers.public_health.dhis2.model import (
    DataValueSet,
    ImportStrategy,
    ImportSummary,
    PushRecord,
    PushState,
)


class Dhis2Instance(Protocol):
    """A configured DHIS2 server (credentials kept in settings, never taken from a
    request)."""

    async def push_data_values(self, data: DataValueSet, *, dry_run: bool = False,
                               strategy: ImportStrategy = ImportStrategy.CREATE_AND_UPDATE,
                               ) -> ImportSummary: ...

    async def system_info(self) -> dict[str, Any]: ...

    async def data_values(self, data_set: str, period: str,
                          org_units: Sequence[str]) -> list[dict[str, Any]]:
        """The data values DHIS2 holds (``GET /api/dataValueSets``), as DHIS2 writes them."""
        ...

    async def org_units(self) -> list[dict[str, Any]]:
        """Every org unit: ``id``, ``name``, ``level``, ``parent: {id}`` (as DHIS2 writes)."""
        ...

    async def metadata_ids(self, kind: str) -> set[str]:
        """The ids of a metadata listing: dataSets, dataElements, organisationUnits or
        categoryOptionCombos."""
        ...


class PushStore(Protocol):
    async def create(self, push: PushRecord, message: NewOutboxMessage) -> None:
        """Keep the push and put its outbox message in, in one transaction."""
        ...

    async def get(self, push_id: str) -> PushRecord | None: ...

    async def record(self, push_id: str, *, state: PushState, at: datetime,
                     summary: dict[str, Any] | None = None, error: str | None = None) -> None:
        """A delivery attempt's outcome (the attempt count goes up by one)."""
        ...


class OutboundGuard(Protocol):
    async def admit(self, url: str) -> None:
        """Raise :class:`resolvers.errors.InvalidInput` unless the allow-list admits url."""
        ...
