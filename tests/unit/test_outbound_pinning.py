"""The guard resolves a name once and connects to exactly the address it checked.

A rebinding DNS server answers a public address to the first lookup and loopback to the
second. The fakes below play that server and the network: nothing leaves the process.
"""

from __future__ import annotations

import ipaddress
import ssl
import typing

import httpcore
import httpx
import pytest

from adapters.http.addresses import IPAddress
from adapters.http.outbound import GuardedTransport, OutboundPolicy, OutboundRefused
from adapters.http.pinning import PinnedNetworkBackend, UncheckedConnection

PUBLIC = "93.184.216.34"
OTHER_PUBLIC = "93.184.216.35"
HOST = "api.partner.example"
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


class RebindingResolver:
    """Each lookup gets the next scripted answer, as a hostile DNS server would give it."""

    def __init__(self, *answers: list[str]) -> None:
        self._answers = list(answers)
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        return [ipaddress.ip_address(a) for a in self._answers.pop(0)]


class FakeStream(httpcore.AsyncNetworkStream):
    def __init__(self, network: FakeNetwork) -> None:
        self._network = network
        self._replies = [NO_CONTENT]

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._replies.pop(0) if self._replies else b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._network.written += buffer

    async def aclose(self) -> None:
        pass

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        self._network.tls_server_names.append(server_hostname)
        return self

    def get_extra_info(self, info: str) -> typing.Any:
        return None


class FakeNetwork(httpcore.AsyncNetworkBackend):
    """Records where connections go; addresses in ``unreachable`` refuse the connection."""

    def __init__(self, unreachable: tuple[str, ...] = ()) -> None:
        self.unreachable = unreachable
        self.connections: list[tuple[str, int]] = []
        self.tls_server_names: list[str | None] = []
        self.written = b""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable[typing.Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        self.connections.append((host, port))
        if host in self.unreachable:
            raise httpcore.ConnectError(f"{host} unreachable")
        return FakeStream(self)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[typing.Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise AssertionError("no unix sockets")

    async def sleep(self, seconds: float) -> None:
        pass


def _client(resolver: RebindingResolver, network: FakeNetwork) -> httpx.AsyncClient:
    transport = GuardedTransport(OutboundPolicy([], resolver), network_backend=network)
    return httpx.AsyncClient(transport=transport)


async def test_the_connection_goes_to_the_checked_address_and_dns_is_asked_once() -> None:
    resolver = RebindingResolver([PUBLIC], ["127.0.0.1"])
    network = FakeNetwork()
    async with _client(resolver, network) as client:
        response = await client.get(f"https://{HOST}/v1/things")
    assert response.status_code == 204
    assert resolver.lookups == [HOST]  # the rebinding second answer is never asked for
    assert network.connections == [(PUBLIC, 443)]
    # TLS and HTTP still speak to the name: SNI, certificate check and Host header.
    assert network.tls_server_names == [HOST]
    assert f"Host: {HOST}\r\n".encode() in network.written


async def test_a_later_request_is_checked_again_even_with_a_pooled_connection() -> None:
    resolver = RebindingResolver([PUBLIC], ["127.0.0.1"])
    network = FakeNetwork()
    async with _client(resolver, network) as client:
        assert (await client.get(f"http://{HOST}/a")).status_code == 204
        with pytest.raises(OutboundRefused, match="loopback"):
            await client.get(f"http://{HOST}/b")
    assert network.connections == [(PUBLIC, 80)]


async def test_one_forbidden_answer_refuses_the_request_before_any_connection() -> None:
    network = FakeNetwork()
    async with _client(RebindingResolver([PUBLIC, "169.254.169.254"]), network) as client:
        with pytest.raises(OutboundRefused, match="link-local"):
            await client.get(f"http://{HOST}/")
    assert network.connections == []


async def test_an_unreachable_checked_address_falls_back_to_the_next_checked_one() -> None:
    network = FakeNetwork(unreachable=(PUBLIC,))
    async with _client(RebindingResolver([PUBLIC, OTHER_PUBLIC]), network) as client:
        assert (await client.get(f"http://{HOST}:8080/")).status_code == 204
    assert network.connections == [(PUBLIC, 8080), (OTHER_PUBLIC, 8080)]


async def test_the_backend_refuses_a_connection_the_guard_did_not_check() -> None:
    network = FakeNetwork()
    with pytest.raises(UncheckedConnection):
        await PinnedNetworkBackend(network).connect_tcp(HOST, 443)
    assert network.connections == []


async def test_an_ipv6_literal_is_pinned_to_itself() -> None:
    network = FakeNetwork()
    transport = GuardedTransport(OutboundPolicy(["::1"]), network_backend=network)
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.get("http://[::1]:8103/fhir")).status_code == 204
    assert network.connections == [("::1", 8103)]
