"""What SMART on FHIR needs from the world: storage, token minting and JOSE."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from resolvers.smart.model import Grant, SmartApp


class SmartStore(Protocol):
    async def add_app(self, app: SmartApp) -> None: ...

    async def get_app(self, client_id: str) -> SmartApp | None: ...

    async def list_apps(self) -> list[SmartApp]: ...

    async def add_grant(self, grant: Grant) -> bool:
        """False when a grant with this key exists already (a replayed jti)."""
        ...

    async def consume_grant(self, key_hash: str, kind: str, now: datetime) -> Grant | None:
        """Mark the grant used and return it, once: None when unknown, used or expired."""
        ...

    async def find_grant(self, key_hash: str, kind: str, now: datetime) -> Grant | None:
        """An unused, unexpired grant, left as it is."""
        ...


class AccessTokenMinter(Protocol):
    def mint(self, subject: str, roles: Sequence[str], scopes: Sequence[str], ttl_seconds: int,
             smart: dict[str, Any], jti: str, organization: str | None = None) -> str:
        """A v4.public token the FHIR routes accept, carrying the SMART context (and the
        approving user's organization, so organization scoping confines the app as it
        confines the user)."""
        ...


class IdTokenSigner(Protocol):
    def sign(self, claims: dict[str, Any]) -> str: ...

    def jwks(self) -> dict[str, Any]: ...


class ClientAssertions(Protocol):
    async def verify(self, assertion: str, jwks: dict[str, Any] | None,
                     jwks_url: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(header, claims) of a signature-checked assertion; OAuthError otherwise."""
        ...
