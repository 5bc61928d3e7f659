"""Outbound request policy: no request reaches an address the operator did not allow.

Public (globally routable) addresses may be reached for URLs the operator configured.
Loopback, private, link-local (cloud metadata lives there), CGNAT, multicast and reserved
addresses, and IPv6 forms that carry one of them (NAT64, 6to4, Teredo, IPv4-mapped; see
addresses.py), are refused unless ``CARI_OUTBOUND_ALLOWLIST`` names the host, host:port or a
network containing the address (or the IPv4 address it carries). URLs that came from a
caller must be on the allow-list.

The host name is resolved once; every address must pass, and the connection goes to one of
exactly those addresses (pinning.py), so a second DNS answer cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

from adapters.http.addresses import IPAddress, embedded_ipv4, refusal
from adapters.http.pinning import pinned, pinned_http_transport

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
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


def _within(address: IPAddress, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return address in network or any(inner in network for inner in embedded_ipv4(address))


class OutboundPolicy:
    def __init__(self, allowlist: Sequence[str], resolver: Resolver | None = None) -> None:
        self._entries = [_parse_entry(e) for e in allowlist]
        self._resolve = resolver or resolve_host

    def _listed(self, host: str, port: int, addresses: Sequence[IPAddress]) -> bool:
        for e in self._entries:
            if e.host is not None and (e.host == host or (e.host.startswith("*.") and
                                                            host.endswith(e.host[1:]))):
                if e.port is None or e.port == port:
                    return True
            if e.network is not None and addresses and all(_within(a, e.network)
                                                           for a in addresses):
                return True
        return False

    async def check(self, url: str | httpx.URL, *,
                    caller_supplied: bool = False) -> list[IPAddress]:
        """The addresses the URL's host resolves to, all of them allowed; else OutboundRefused."""
        parsed = urlsplit(str(url))
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise OutboundRefused("only absolute http and https URLs may be requested")
        host = parsed.hostname.lower().rstrip(".")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        addresses = await self._resolve(host, port)
        if not addresses:
            raise OutboundRefused(f"{host} does not resolve")
        if self._listed(host, port, addresses):
            return addresses
        if caller_supplied:
            raise OutboundRefused(f"{host}:{port} is not on the outbound allow-list")
        if host in METADATA_HOSTS:
            raise OutboundRefused(f"{host} is a cloud metadata address")
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                raise OutboundRefused(
                    f"{host} resolves to {reason} ({address}); add it to "
                    "CARI_OUTBOUND_ALLOWLIST to allow it"
                )
        return addresses


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """The system resolver (the default ``Resolver``); an IP literal resolves to itself."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise OutboundRefused(f"{host} does not resolve") from None
    # Several answers per address (one per socket type or protocol): keep each once, in order.
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks every request of the shared client against the policy before it is sent, and
    pins its connection to the addresses that were checked."""

    def __init__(self, policy: OutboundPolicy, inner: httpx.AsyncBaseTransport | None = None,
                 *, network_backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._policy = policy
        self._inner = inner or pinned_http_transport(network_backend)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        addresses = await self._policy.check(request.url)
        # The pool names the host as the URL's raw (IDNA-encoded) host; the pin must match it.
        with pinned(request.url.raw_host.decode("ascii"), _port(request.url), addresses):
            return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def build_http_client(policy: OutboundPolicy, timeout_seconds: float) -> httpx.AsyncClient:
    """The one shared client, owned by the app lifespan."""
    return httpx.AsyncClient(
        transport=GuardedTransport(policy),
        timeout=httpx.Timeout(timeout_seconds, connect=min(5.0, timeout_seconds)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        follow_redirects=False,  # a redirect could point anywhere; adapters decide explicitly
        headers={"User-Agent": "cari-gateway/0.1"},
    )
