"""SMART on FHIR's records: registered apps, one-time grants, and the OAuth error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class OAuthError(Exception):
    """An RFC 6749 error: ``error`` is the code (invalid_grant, invalid_client, ...)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class AppDraft:
    name: str
    redirect_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()  # the scopes the app may be granted
    launch_urls: tuple[str, ...] = ()
    confidential: bool = False
    jwks_url: str | None = None  # backend services: where its public keys are
    jwks: dict[str, Any] | None = None  # ... or the keys themselves


@dataclass(frozen=True)
class SmartApp:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    launch_urls: tuple[str, ...]
    confidential: bool
    secret_hash: str | None
    jwks_url: str | None
    jwks: dict[str, Any] | None
    created_at: datetime
    created_by: str

    @property
    def backend(self) -> bool:
        return bool(self.jwks_url or self.jwks)


@dataclass(frozen=True)
class RegisteredApp:
    """A registration's answer: the secret is shown this once and only its hash is kept."""

    app: SmartApp
    client_secret: str | None


@dataclass(frozen=True)
class Grant:
    """A launch id, authorization code, refresh token, used assertion jti or revoked token:
    stored under the SHA-256 of its value, usable once (``used_at``) until ``expires_at``."""

    key_hash: str
    kind: str  # launch | code | refresh | jti | revoked
    client_id: str
    expires_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LaunchView:
    launch_id: str
    context: dict[str, Any]
