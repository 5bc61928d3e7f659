"""Reading request bodies: the size limit is enforced while streaming, before buffering.

A declared ``Content-Length`` over the limit is refused before a byte is read; a chunked
body is counted as it arrives and refused the moment it passes the limit, so a client can
never make the gateway hold more than ``limit`` bytes of one request.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from resolvers.errors import DomainError


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


def _too_large(limit: int) -> DomainError:
    return PayloadTooLarge(f"the request body is larger than {limit} bytes")


async def read_body(request: Request, limit: int,
                    too_large: Callable[[int], Exception] = _too_large) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
