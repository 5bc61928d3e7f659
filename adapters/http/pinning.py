"""Connect to the address that was checked, not to whatever a second DNS lookup answers.

The guard resolves a host name once and checks every address. If the connection then looked
the name up again, a DNS server answering a public address first and 127.0.0.1 second (DNS
rebinding) would get past the check. So the guard pins the checked addresses for the duration
of the request, and this network backend, used by the connection pool, connects only to a
pinned address. The pool still knows the host by name: the Host header, TLS SNI and the
certificate check all use the name, and pooled connections are never shared between names.
"""

from __future__ import annotations

import contextlib
import contextvars
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpcore
import httpx

from adapters.http.addresses import IPAddress

SocketOption = typing.Any  # httpcore's SOCKET_OPTION union, passed through untouched


class UncheckedConnection(Exception):
    """A connection was about to be opened to a host the guard did not check."""


@dataclass(frozen=True)
class Pin:
    host: str  # as the connection pool spells it: IDNA-encoded, lower case, no brackets
    port: int
    addresses: tuple[IPAddress, ...]


_pin: contextvars.ContextVar[Pin | None] = contextvars.ContextVar("outbound_pin", default=None)


@contextlib.contextmanager
def pinned(host: str, port: int, addresses: Sequence[IPAddress]) -> Iterator[None]:
    """Within this block (and the same task), connections to host:port go to ``addresses``."""
    token = _pin.set(Pin(host.lower(), port, tuple(addresses)))
    try:
        yield
    finally:
        _pin.reset(token)


class PinnedNetworkBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    # The signatures are httpcore's (AsyncNetworkBackend), timeout parameter included.
    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: typing.Iterable[SocketOption] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        pin = _pin.get()
        if pin is None or pin.host != host.lower() or pin.port != port:
            raise UncheckedConnection(f"no checked address for {host}:{port}")
        failure: Exception = httpcore.ConnectError(f"{host} has no address to connect to")
        for address in pin.addresses:
            try:
                return await self._inner.connect_tcp(str(address), port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # the next checked address, as a resolver-driven connect would
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: typing.Iterable[SocketOption] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise UncheckedConnection("outbound requests do not use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pinned_http_transport(network_backend: httpcore.AsyncNetworkBackend | None = None,
                          ) -> httpx.AsyncHTTPTransport:
    """httpx's own transport, whose pool connects through a ``PinnedNetworkBackend``."""
    transport = httpx.AsyncHTTPTransport(retries=1)
    # httpx does not take a network backend as an argument; its pool does, and the pool has
    # not opened a connection yet. tests/unit/test_outbound_pinning.py fails if this breaks.
    pool = transport._pool
    pool._network_backend = PinnedNetworkBackend(network_backend or pool._network_backend)
    return transport
