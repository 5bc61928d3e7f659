"""GraphQL over WebSocket (``graphql-transport-ws``): authentication at ``connection_init``.

A browser cannot set an Authorization header on a WebSocket, so the PASETO token comes in
the ``connection_init`` payload: ``{"Authorization": "Bearer v4.public..."}`` (any case),
``{"token": "v4.public..."}`` or ``{"authToken": ...}``. A missing, invalid or SMART token is
refused: the socket closes with 4403 before any operation runs (an operation sent before
``connection_init`` is closed with 4401 by the protocol). The token is kept on the
connection so that subscriptions check it again on every event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.exceptions import ConnectionRejectionError

from resolvers.authn import principal_from_authorization
from resolvers.errors import Unauthenticated
from resolvers.principal import Caller
from schema.graphql_context import GraphQLContext, build_loaders

TOKEN_KEYS = ("authorization", "token", "authtoken")


@dataclass
class SocketContext(GraphQLContext):
    """The context of one WebSocket connection (every operation on it shares it)."""

    connection_params: dict[str, Any] | None = None
    token: str = ""


def _authorization(params: object) -> str:
    if not isinstance(params, dict):
        return ""
    found = {str(k).lower(): v for k, v in params.items()}
    for key in TOKEN_KEYS:
        value = found.get(key)
        if isinstance(value, str) and value.strip():
            value = value.strip()
            return value if value.lower().startswith("bearer ") else f"Bearer {value}"
    return ""


async def authenticate_socket(context: object) -> dict[str, object]:
    """``on_ws_connect``: the principal of the init payload's token, or a 4403 refusal."""
    if not isinstance(context, SocketContext):
        raise ConnectionRejectionError()
    header = _authorization(context.connection_params)
    try:
        principal = principal_from_authorization(context.services.authenticator, header)
    except Unauthenticated:
        raise ConnectionRejectionError({"reason": "a valid bearer token is required in the "
                                                  "connection_init payload"}) from None
    if principal.smart is not None:
        raise ConnectionRejectionError({"reason": "a SMART app's token is for /api/fhir only"})
    context.caller = Caller(principal=principal, request_id=context.caller.request_id,
                            surface="graphql-ws")
    context.token = header.split(" ", 1)[1].strip()
    context.loaders = build_loaders(context.services, context.caller)
    return {}


def is_subscription(query: str | None, operation_name: str | None) -> bool:
    """Is the operation to run a subscription? (Parsed only when the word appears.)"""
    if not query or "subscription" not in query:
        return False
    try:
        document = parse(query)
    except GraphQLError:
        return False  # the usual path reports the syntax error
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None
              or (o.name is not None and o.name.value == operation_name)]
    return len(chosen) == 1 and chosen[0].operation == OperationType.SUBSCRIPTION
