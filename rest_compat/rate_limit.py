"""Pure ASGI rate limiting: a token bucket per client and route family, in this process.

The client is the authenticated subject when the request carries a valid bearer token
(verified here once; the router and the GraphQL gate reuse the principal from the scope),
else the client address. The public webhook routes, which carry no bearer token, are
limited per source: the route (so the provider) and the client address. Health, readiness
and metrics are never limited: a load balancer or a scraper must always get through.

Over the limit the answer is 429 with ``Retry-After`` in the family's error shape: the REST
envelope, an OperationOutcome under /api/fhir, GraphQL errors on /graphql.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Hashable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from resolvers.authn import principal_from_authorization
from resolvers.errors import Unauthenticated
from resolvers.services import Authenticator
from rest_compat.errors import render_error
from rest_compat.token_bucket import TokenBuckets

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def route_family(path: str) -> str:
    """``/api/patients/7`` -> ``/api/patients``; ``/graphql`` -> ``/graphql``."""
    parts = path.strip("/").split("/")
    return "/" + "/".join(parts[:2] if parts[0] == "api" else parts[:1])


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, authenticator: Authenticator, per_minute: int,
                 webhook_per_minute: int, webhook_paths: Collection[str]) -> None:
        self.app = app
        self.authenticator = authenticator
        self.clients = TokenBuckets(per_minute) if per_minute > 0 else None
        self.webhooks = TokenBuckets(webhook_per_minute) if webhook_per_minute > 0 else None
        self.webhook_paths = frozenset(webhook_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        address = scope["client"][0] if scope.get("client") else "unknown"
        wait = 0.0
        if path in self.webhook_paths:
            if self.webhooks is not None:
                wait = self.webhooks.take((path, address))
        elif self.clients is not None:
            wait = self.clients.take((route_family(path), self._client(scope, address)))
        if wait > 0:
            await self._refuse(scope, TokenBuckets.retry_after_seconds(wait))(scope, receive,
                                                                               send)
            return
        await self.app(scope, receive, send)

    def _client(self, scope: Scope, address: str) -> Hashable:
        header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if not header:
            return ("address", address)
        try:
            principal = principal_from_authorization(self.authenticator, header.decode("latin-1"))
        except Unauthenticated:
            return ("address", address)  # the router answers 401; keyed like anonymous
        state = scope.setdefault("state", {})
        state["principal"] = principal
        state["subject"] = principal.subject
        return ("subject", principal.issuer, principal.subject)

    @staticmethod
    def _refuse(scope: Scope, retry_after: int) -> Response:
        message = f"too many requests; retry after {retry_after} s"
        headers = {"Retry-After": str(retry_after)}
        if scope["path"].startswith("/graphql"):
            body = {"errors": [{"message": message, "extensions": {"code": "RATE_LIMITED"}}]}
            return Response(json.dumps(body), status_code=429, media_type="application/json",
                            headers=headers)
        response = render_error(Request(scope), "rate_limited", message, status=429)
        response.headers.update(headers)
        return response
