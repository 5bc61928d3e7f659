"""Guarded HTTP clients that present a client certificate (HIEs with mutual TLS).

Each is checked and pinned like the shared client (adapters/http/outbound.py): the same
``GuardedTransport`` over httpx's transport, whose pool connects through the pinning backend.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

import httpx

from adapters.http.outbound import GuardedTransport, OutboundPolicy
from adapters.http.pinning import PinnedNetworkBackend
from resolvers.crossborder.model import AuthKind, CountryProfile


def mtls_client(policy: OutboundPolicy, profile: CountryProfile) -> httpx.AsyncClient:
    context = ssl.create_default_context(cafile=profile.ca_bundle or None)
    context.load_cert_chain(profile.client_cert, profile.client_key or None)
    inner = httpx.AsyncHTTPTransport(retries=1, verify=context)
    pool = inner._pool  # as adapters/http/pinning.py: the pool connects through the pin
    pool._network_backend = PinnedNetworkBackend(pool._network_backend)
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, inner),
        timeout=httpx.Timeout(profile.timeout_seconds, connect=min(5.0, profile.timeout_seconds)),
        follow_redirects=False, headers={"User-Agent": "cari-gateway/0.1"})


def mtls_clients(policy: OutboundPolicy,
                 profiles: Iterable[CountryProfile]) -> dict[str, httpx.AsyncClient]:
    """One client per mutual-TLS profile that has its certificate configured."""
    return {p.code: mtls_client(policy, p) for p in profiles
            if p.auth is AuthKind.MTLS and p.client_cert}
