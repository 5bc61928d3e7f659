"""Route declarations that carry their own OpenAPI description.

Each route family declares its routes with :func:`api_route`; the router and
``/openapi.json`` are built from the same list, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rest_compat.access import guard

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class QueryParam:
    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False
    location: str = "query"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    endpoint: Endpoint
    roles: Sequence[str] | None = None  # None: public; () authenticated, any role
    scopes: Sequence[str] = ()  # a token with one of these scopes passes without the role
    request_model: type[BaseModel] | None = None
    response_model: type[BaseModel] | None = None
    success_status: int = 200
    params: Sequence[QueryParam] = ()
    error_statuses: Sequence[int] = ()
    envelope: bool = True  # {"success": ..., "data": ...}
    raw_responses: dict[str, Any] | None = None  # for non-JSON answers (text, HTML)
    request_headers: Sequence[QueryParam] = ()
    fhir: bool = False  # errors are OperationOutcomes in application/fhir+json
    request_body_schema: dict[str, Any] | None = None  # for bodies without a pydantic model



def build_routes(operations: Sequence[Operation]) -> list[Route]:
    """One route per path that dispatches on the method, so a 405 lists every allowed one.

    The dispatcher authenticates and checks the declared roles before the endpoint runs:
    a caller without the right gets 401/403 before the body is read, parsed or validated,
    whatever the body is. Public routes (roles None) authenticate in the endpoint, by the
    provider's signature or token.
    """
    by_path: dict[str, dict[str, Operation]] = {}
    for op in operations:
        by_path.setdefault(op.path, {})[op.method] = op

    def dispatcher(declared: dict[str, Operation]) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            op = declared["GET" if request.method == "HEAD" else request.method]
            await guard(request, op)
            return await op.endpoint(request)

        return endpoint

    return [Route(path, dispatcher(declared), methods=list(declared), name=path)
            for path, declared in by_path.items()]


def api_route(
    method: str, path: str, endpoint: Endpoint, *, summary: str, tag: str, **kwargs: Any
) -> Operation:
    return Operation(method=method, path=path, summary=summary, tag=tag, endpoint=endpoint,
                     **kwargs)
