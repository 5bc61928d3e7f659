"""Bodies are limited while they stream, and refused requests are not received at all."""

from __future__ import annotations

import json

from tests.asgi_probe import probe
from tests.support import Harness

MIB = 1024 * 1024
CHUNKED = ("transfer-encoding", "chunked")


def _chunks(total: int, size: int = 64 * 1024) -> list[bytes]:
    return [b"x" * size] * (total // size)


async def test_bogus_callback_token_is_refused_before_the_body(gateway: Harness) -> None:
    for token in ("bogus", "A" * 43):  # a wrong shape, and the right shape but unknown
        result = await probe(gateway.app, "POST", "/api/payments/webhooks/mpesa",
                             query=f"token={token}", chunks=_chunks(5 * MIB),
                             headers=[("content-type", "application/json"), CHUNKED])
        assert result.status == 401, result.body
        assert result.bytes_read == 0
        assert result.headers["connection"] == "close"  # the client is told to stop sending


async def test_oversized_callback_stops_at_the_limit(gateway: Harness) -> None:
    # No token at all would be refused first; an unconfigured webhook too. The generic
    # webhook routes check the provider before the body (see test_route_auth_before_body).
    result = await probe(gateway.app, "POST", "/api/webhooks/stripe",
                         chunks=_chunks(5 * MIB), headers=[CHUNKED])
    assert result.status == 404 and result.bytes_read == 0


def _graphql_headers(h: Harness, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {h.token('admin')}"),
            ("content-type", "application/json"), *extra]


async def test_graphql_refuses_a_declared_length_over_1_mib(gateway: Harness) -> None:
    result = await probe(gateway.app, "POST", "/graphql", chunks=_chunks(2 * MIB),
                         headers=_graphql_headers(gateway, ("content-length", str(2 * MIB))))
    assert result.status == 413
    assert result.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert result.bytes_read == 0


async def test_graphql_stops_reading_a_chunked_body_at_the_limit(gateway: Harness) -> None:
    result = await probe(gateway.app, "POST", "/graphql", chunks=_chunks(5 * MIB),
                         headers=_graphql_headers(gateway, CHUNKED))
    assert result.status == 413
    assert MIB < result.bytes_read <= MIB + 64 * 1024


async def test_graphql_authenticates_before_the_size(gateway: Harness) -> None:
    result = await probe(gateway.app, "POST", "/graphql", chunks=_chunks(2 * MIB),
                         headers=[("content-length", str(2 * MIB))])
    assert result.status == 401 and result.bytes_read == 0


async def test_graphql_under_the_limit_still_works(gateway: Harness) -> None:
    compact = json.dumps({"query": "{ __typename }"}).encode()
    query = compact[:-1] + b" " * (MIB - len(compact)) + b"}"  # padded with JSON whitespace
    assert len(query) <= MIB
    result = await probe(gateway.app, "POST", "/graphql", chunks=[query],
                         headers=_graphql_headers(gateway, ("content-length", str(len(query)))))
    assert result.status == 200, result.body


async def test_refund_body_is_limited(gateway: Harness) -> None:
    result = await probe(gateway.app, "POST", "/api/payments/p-1/refund",
                         chunks=_chunks(3 * MIB),
                         headers=[("authorization", f"Bearer {gateway.token('billing')}"),
                                  ("content-type", "application/json"), CHUNKED])
    assert result.status == 413
    assert result.bytes_read <= MIB + 64 * 1024
