"""What the cross-border lookup needs of the world: an HIE client and the outbound guard."""

from __future__ import annotations

from typing import Protocol

from resolvers.crossborder.model import CountryProfile, HieAnswer


class HieClient(Protocol):
    async def find(self, profile: CountryProfile, national_id: str) -> HieAnswer:
        """The resources ``profile``'s HIE holds for ``national_id`` (empty: no match).

        Raises :class:`~resolvers.crossborder.model.HieFailure` when it cannot be asked or
        its answer is unusable. The caller bounds the time (the profile's timeout)."""
        ...


class EndpointGuard(Protocol):
    async def admit(self, url: str) -> None:
        """Return when a caller-supplied URL may be requested (it is on the outbound
        allow-list); else raise :class:`~resolvers.crossborder.model.EndpointRefused`."""
        ...
