"""Outbound request policy: no request reaches an address the operator did not allow.

Public (globally routable) addresses may be reached for URLs the operator configured.
Loopback, private, link-local (cloud metadata lives there), CGNAT, multicast and reserved
addresses are refused unless ``CARI_OUTBOUND_ALLOWLIST`` names the host, host:port or a
network containing the address. URLs that came from a caller must be on the allow-list.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


class OutboundRefused(Exception):
    """The URL may not be requested; the message says why (safe to show to the caller)."""


@dataclass(frozen=True)
class _Entry:
    host: str | None = None
    port: int | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None


def _parse_entry(entry: str) -> _Entry:
    try:
        return _Entry(network=ipaddress.ip_network(entry, strict=False))
    except ValueError:
        pass
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return _Entry(host=host.lower(), port=int(port))
    return _Entry(host=entry.lower())


class OutboundPolicy:
    def __init__(self, allowlist: Sequence[str]) -> None:
        self._entries = [_parse_entry(e) for e in allowlist]

    def _listed(self, host: str, port: int, addresses: Sequence[IPAddress]) -> bool:
        for e in self._entries:
            if e.host is not None and (e.host == host or (e.host.startswith("*.") and
                                                            host.endswith(e.host[1:]))):
                if e.port is None or e.port == port:
                    return True
            if e.network is not None and addresses and all(a in e.network for a in addresses):
                return True
        return False

    async def check(self, url: str | httpx.URL, *, caller_supplied: bool = False) -> None:
        parsed = urlsplit(str(url))
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise OutboundRefused("only absolute http and https URLs may be requested")
        host = parsed.hostname.lower().rstrip(".")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        addresses = await _resolve(host, port)
        if self._listed(host, port, addresses):
            return
        if caller_supplied:
            raise OutboundRefused(f"{host}:{port} is not on the outbound allow-list")
        if host in METADATA_HOSTS:
            raise OutboundRefused(f"{host} is a cloud metadata address")
        for address in addresses:
            if not address.is_global:
                raise OutboundRefused(
                    f"{host} resolves to a non-public address ({address}); add it to "
                    "CARI_OUTBOUND_ALLOWLIST to allow it"
                )


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise OutboundRefused(f"{host} does not resolve") from None
    return [ipaddress.ip_address(info[4][0]) for info in infos]


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks every request of the shared client against the policy before it is sent."""

    def __init__(self, policy: OutboundPolicy, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._policy = policy
        self._inner = inner or httpx.AsyncHTTPTransport(retries=1)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._policy.check(request.url)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def build_http_client(policy: OutboundPolicy, timeout_seconds: float) -> httpx.AsyncClient:
    """The one shared client, owned by the app lifespan."""
    return httpx.AsyncClient(
        transport=GuardedTransport(policy),
        timeout=httpx.Timeout(timeout_seconds, connect=min(5.0, timeout_seconds)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        follow_redirects=False,  # a redirect could point anywhere; adapters decide explicitly
        headers={"User-Agent": "cari-gateway/0.1"},
    )
