"""Turning an Authorization credential into a principal (both surfaces use this)."""

from __future__ import annotations

from resolvers.errors import Unauthenticated
from resolvers.principal import Principal
from resolvers.services import Authenticator


def principal_from_authorization(authenticator: Authenticator, header: str) -> Principal:
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthenticated("an Authorization: Bearer token is required")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <v4.public token>'")
    return authenticator.verify(token.strip())
