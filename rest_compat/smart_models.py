"""Bodies of the SMART on FHIR routes (also their OpenAPI schemas)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from resolvers.smart.model import AppDraft, RegisteredApp, SmartApp
from rest_compat.models import Strict

URL = Field(min_length=1, max_length=2000)


class SmartAppBody(Strict):
    name: str = Field(min_length=1, max_length=200)
    redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    scopes: list[str] = Field(default_factory=list, max_length=100,
                              description="Scopes the app may be granted (SMART v1 or v2)")
    launch_urls: list[str] = Field(default_factory=list, max_length=20)
    confidential: bool = Field(default=False, description="A client secret is issued (shown "
                               "once) unless the app registers keys")
    jwks_url: str | None = Field(default=None, max_length=2000,
                                 description="Backend services: the app's JWKS URL")
    jwks: dict[str, Any] | None = Field(default=None, description="... or its JWKS inline")

    def to_domain(self) -> AppDraft:
        return AppDraft(name=self.name, redirect_uris=tuple(self.redirect_uris),
                        scopes=tuple(self.scopes), launch_urls=tuple(self.launch_urls),
                        confidential=self.confidential, jwks_url=self.jwks_url, jwks=self.jwks)


class SmartAppView(BaseModel):
    client_id: str
    name: str
    redirect_uris: list[str]
    scopes: list[str]
    launch_urls: list[str]
    confidential: bool
    token_endpoint_auth_method: str
    jwks_url: str | None = None
    client_secret: str | None = Field(default=None, description="Only in the registration's "
                                      "answer: it is kept hashed and never shown again")

    @classmethod
    def of(cls, app: SmartApp, secret: str | None = None) -> SmartAppView:
        method = ("private_key_jwt" if app.backend else "client_secret_basic"
                  if app.secret_hash else "none")
        return cls(client_id=app.client_id, name=app.name, redirect_uris=list(app.redirect_uris),
                   scopes=list(app.scopes), launch_urls=list(app.launch_urls),
                   confidential=app.confidential, token_endpoint_auth_method=method,
                   jwks_url=app.jwks_url, client_secret=secret)

    @classmethod
    def registered(cls, found: RegisteredApp) -> SmartAppView:
        return cls.of(found.app, found.client_secret)


class SmartAppList(BaseModel):
    items: list[SmartAppView]


class LaunchBody(Strict):
    patient: str = Field(min_length=1, max_length=64)
    encounter: str | None = Field(default=None, max_length=64)
    launch_url: str = Field(min_length=1, max_length=2000)


class LaunchAnswer(BaseModel):
    launch_id: str
    context: dict[str, Any]
