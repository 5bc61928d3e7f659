"""/graphql over HTTP: bearer authentication, then Strawberry with a typed context.

Every operation needs a valid token, including ``_service { sdl }`` and ``_entities``;
only the GraphiQL page itself (a GET without a query) is served to anonymous browsers.
"""

import json
from collections.abc import Sequence
from typing import Any

from cross_web import HTTPException
from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.federation import Schema
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from resolvers.authn import principal_from_authorization
from resolvers.errors import Unauthenticated
from resolvers.ids import new_id
from resolvers.input_rules import InputRuleViolation
from resolvers.input_rules import decode_json as decode_checked_json
from resolvers.principal import Caller, Principal
from resolvers.services import Authenticator, Services
from rest_compat.input_guard import input_violation
from schema.graphiql import graphiql_html
from schema.graphql_context import GraphQLContext, build_loaders
from schema.ws_auth import SocketContext, authenticate_socket, is_subscription

ANONYMOUS = Principal(subject="anonymous", roles=frozenset())
WWW_AUTHENTICATE = 'Bearer realm="cari-gateway", error="invalid_token"'


class CariGraphQL(GraphQL[GraphQLContext, None]):
    def __init__(self, schema: Schema, *, graphiql: bool,
                 allowed_origins: Sequence[str] = ()) -> None:
        # WebSockets (subscriptions): graphql-transport-ws only; a browser's Origin must be
        # this host's or one of CARI_CORS_ORIGINS; a ping every 20 s keeps proxies from
        # closing a quiet subscription.
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None,
                         allow_queries_via_get=True, keep_alive=True, keep_alive_interval=20,
                         subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
                         allowed_origins=allowed_origins)

    @property
    def graphql_ide_html(self) -> str:
        # The page with its scripts served by the gateway (schema/graphiql), not unpkg.com.
        return graphiql_html()

    def decode_json(self, data: str | bytes) -> object:
        """The gateway's one input rule (NUL, surrogates, depth, sizes), not bare json.loads:
        a body that is not UTF-8 or nests 1,000 deep was a 500."""
        try:
            return decode_checked_json(data)
        except InputRuleViolation as exc:
            raise HTTPException(400, exc.message) from None

    async def on_ws_connect(self, context: GraphQLContext) -> dict[str, object]:
        return await authenticate_socket(context)

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any,
                             context: GraphQLContext, root_value: None,
                             request_data: GraphQLRequestData) -> ExecutionResult:
        # Over plain HTTP a subscription would run as a query and fail as an unexpected
        # error: refuse it as the client's mistake, saying where subscriptions are served.
        if is_subscription(request_data.query, request_data.operation_name):
            raise HTTPException(400, "subscriptions are served over WebSocket at /graphql "
                                     "(graphql-transport-ws), not over HTTP")
        return await super().execute_single(request, request_adapter, sub_response, context,
                                            root_value, request_data)

    def encode_json(self, data: object) -> bytes:
        """pydantic-core, not json.dumps: a third of the time on a page of 50 patients with
        their results. An answer holds JSON types only (graphql-core serialised every
        scalar); non-ASCII text goes out as UTF-8 rather than \\u escapes."""
        return to_json(data)

    async def get_context(self, request: Any, response: Any) -> GraphQLContext:
        if isinstance(request, WebSocket):  # anonymous until connection_init (ws_auth.py)
            services_: Services = request.app.state.services
            # One id per connection: its audit records (one per event) share it.
            anonymous = Caller(principal=ANONYMOUS, surface="graphql-ws",
                               request_id=f"ws-{new_id()}")
            return SocketContext(request=request, caller=anonymous,  # type: ignore[arg-type]
                                 services=services_, loaders=build_loaders(services_, anonymous))
        assert isinstance(request, Request)
        state = request.scope["state"]
        principal: Principal = state["principal"]
        caller = Caller(principal=principal, request_id=str(state.get("request_id", "")),
                        surface="graphql",
                        purpose=request.headers.get("x-purpose-of-use", "")[:200])
        # Built by the lifespan (composition.open_gateway) before the first request.
        services: Services = request.app.state.services
        return GraphQLContext(request=request, caller=caller, services=services,
                              loaders=build_loaders(services, caller))


class GraphQLAuthGate:
    """Pure ASGI: 401 with WWW-Authenticate unless a valid bearer token is presented."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator, *, graphiql: bool) -> None:
        self.app = app
        self.authenticator = authenticator
        self.graphiql = graphiql

    def _wants_ide(self, request: Request) -> bool:
        return (self.graphiql and request.method == "GET" and "query" not in request.query_params
                and "text/html" in request.headers.get("accept", ""))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if self._wants_ide(request):
            # Only the static IDE page is served; the anonymous principal has no roles.
            scope.setdefault("state", {})["principal"] = ANONYMOUS
        else:
            try:
                principal = self._authenticate(request)
            except Unauthenticated as exc:
                body = {"errors": [{"message": exc.message,
                                    "extensions": {"code": "UNAUTHENTICATED"}}]}
                await Response(json.dumps(body), status_code=401, media_type="application/json",
                               headers={"WWW-Authenticate": WWW_AUTHENTICATE})(scope, receive, send)
                return
            state = scope.setdefault("state", {})
            state["principal"] = principal
            state["subject"] = principal.subject
        violation = input_violation(scope)
        if violation is not None:  # the path or query string broke the input rule
            body = {"errors": [{"message": violation.message,
                                "extensions": {"code": "BAD_USER_INPUT",
                                               "field": violation.field}}]}
            await Response(json.dumps(body), status_code=400,
                           media_type="application/json")(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authenticate(self, request: Request) -> Principal:
        known = request.scope.get("state", {}).get("principal")
        principal = known if isinstance(known, Principal) else principal_from_authorization(
            self.authenticator, request.headers.get("authorization", ""))
        if principal.smart is not None:  # a SMART app's token is for the FHIR API only
            raise Unauthenticated("a SMART app's access token is accepted by the FHIR API "
                                  "(/api/fhir) only")
        return principal


GRAPHQL_MAX_BODY_BYTES = 1_048_576  # a query with its variables; uploads do not come this way


def payload_too_large(limit: int) -> Response:
    """413 in the GraphQL error shape, for rest_compat.body_limit.RequestBodyLimit."""
    body = {"errors": [{"message": f"the request body is larger than {limit} bytes",
                        "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]}
    return Response(json.dumps(body), status_code=413, media_type="application/json")
