"""Does an enabled webhook endpoint want an event? (The ``subscriptions`` alert channel.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from resolvers.notifications.model import Endpoint, subscribed


class EndpointList(Protocol):
    async def all_endpoints(self) -> list[Endpoint]: ...


class EndpointSubscribers:
    def __init__(self, store: EndpointList) -> None:
        self._store = store

    async def any_wants(self, event_type: str) -> bool:
        endpoints: Sequence[Endpoint] = await self._store.all_endpoints()
        return any(e.enabled and subscribed(e.event_types, e.resource_types, event_type, None)
                   for e in endpoints)
