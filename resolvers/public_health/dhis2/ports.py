"""The port a DHIS2 push goes out through."""

from __future__ import annotations

from typing import Any, Protocol

from resolvers.public_health.dhis2.model import DataValueSet, ImportStrategy, ImportSummary


class Dhis2Instance(Protocol):
    """A configured DHIS2 server (credentials kept in settings, never taken from a
    request)."""

    async def push_data_values(self, data: DataValueSet, *, dry_run: bool = False,
                               strategy: ImportStrategy = ImportStrategy.CREATE_AND_UPDATE,
                               ) -> ImportSummary: ...

    async def system_info(self) -> dict[str, Any]: ...
