"""The outbound allow-list as the DHIS2 push's guard: a ``dhis2_url`` is used only when
``CARI_OUTBOUND_ALLOWLIST`` admits it, even for a configured instance."""

from __future__ import annotations

from adapters.http.outbound import OutboundPolicy, OutboundRefused
from resolvers.errors import InvalidInput


class Dhis2UrlGuard:
    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    async def admit(self, url: str) -> None:
        try:
            await self._policy.check(url, caller_supplied=True)
        except OutboundRefused as exc:
            raise InvalidInput(f"dhis2_url is refused by the outbound allow-list: {exc}",
                               details=[{"field": "dhis2_url",
                                         "message": "not on CARI_OUTBOUND_ALLOWLIST"}]) from None
