"""The outbound allow-list as the cross-border lookup's ``EndpointGuard``: a caller-supplied
``hie_endpoint`` is admitted only when ``CARI_OUTBOUND_ALLOWLIST`` lists it (even a public
one), and never a loopback, private, link-local or metadata address that is not listed."""

from __future__ import annotations

from adapters.http.outbound import OutboundPolicy, OutboundRefused
from resolvers.crossborder.model import EndpointRefused


class AllowListGuard:
    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    async def admit(self, url: str) -> None:
        try:
            await self._policy.check(url, caller_supplied=True)
        except OutboundRefused as exc:
            raise EndpointRefused(str(exc)) from None
