"""Turning an Authorization credential into a principal (both surfaces use this)."""

from __future__ import annotations

from typing import Protocol

from resolvers.errors import Unauthenticated
from resolvers.principal import Principal


class Authenticator(Protocol):
    def verify(self, token: str) -> Principal:
        """Return the principal, or raise ``Unauthenticated`` with a reason."""
        ...


class HealthProbe(Protocol):
    async def ready(self) -> dict[str, str]:
        """Check dependencies; a value other than "ok" means not ready."""
        ...


def principal_from_authorization(authenticator: Authenticator, header: str) -> Principal:
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthenticated("an Authorization: Bearer token is required")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <v4.public token>'")
    return authenticator.verify(token.strip())
