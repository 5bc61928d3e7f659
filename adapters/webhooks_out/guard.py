"""Endpoint URLs: https to an address the outbound policy allows; http only when the
operator allow-listed the host (a local receiver in development and tests)."""

from __future__ import annotations

from urllib.parse import urlsplit

from adapters.http.outbound import OutboundPolicy, OutboundRefused


class EndpointUrlPolicy:
    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    async def refusal(self, url: str) -> str | None:
        parsed = urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            return "expected an absolute https URL"
        if parsed.username or parsed.password:
            return "credentials in the URL are not accepted"
        try:
            # An http URL must be on the allow-list itself; an https one may be any address
            # the policy allows (public, or private ones the operator listed).
            await self._policy.check(url, caller_supplied=parsed.scheme == "http")
        except OutboundRefused as exc:
            return (f"http URLs must be on CARI_OUTBOUND_ALLOWLIST (use https): {exc}"
                    if parsed.scheme == "http" else str(exc))
        return None
