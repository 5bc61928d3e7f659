"""SMART on FHIR over GraphQL: the app registry (admin). Launch and the OAuth endpoints are
REST by specification (rest_compat/smart.py); both call resolvers/smart."""

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from resolvers.errors import DomainError
from resolvers.principal import Role
from resolvers.smart.model import AppDraft, SmartApp
from schema.errors import ForbiddenError, ValidationError, to_user_error
from schema.graphql_context import Info
from schema.permissions import has_role


@strawberry.type(name="SmartApp")
class SmartAppType:
    client_id: strawberry.ID
    name: str
    redirect_uris: list[str]
    scopes: list[str]
    launch_urls: list[str]
    confidential: bool
    token_endpoint_auth_method: str
    jwks_url: str | None

    @classmethod
    def of(cls, app: SmartApp) -> "SmartAppType":
        method = ("private_key_jwt" if app.backend else "client_secret_basic"
                  if app.secret_hash else "none")
        return cls(client_id=strawberry.ID(app.client_id), name=app.name,
                   redirect_uris=list(app.redirect_uris), scopes=list(app.scopes),
                   launch_urls=list(app.launch_urls), confidential=app.confidential,
                   token_endpoint_auth_method=method, jwks_url=app.jwks_url)


@strawberry.type
class SmartAppRegistration:
    app: SmartAppType
    client_secret: str | None = strawberry.field(
        description="Shown this once (confidential apps without keys); stored hashed")


@strawberry.input
class SmartAppInput:
    name: str
    redirect_uris: list[str] = strawberry.field(default_factory=list)
    scopes: list[str] = strawberry.field(default_factory=list)
    launch_urls: list[str] = strawberry.field(default_factory=list)
    confidential: bool = False
    jwks_url: str | None = None
    jwks: JSON | None = strawberry.field(default=None, description="Inline JWKS")

    def to_domain(self) -> AppDraft:
        return AppDraft(name=self.name, redirect_uris=tuple(self.redirect_uris[:21]),
                        scopes=tuple(self.scopes[:101]), launch_urls=tuple(self.launch_urls[:21]),
                        confidential=self.confidential, jwks_url=self.jwks_url,
                        jwks=self.jwks if isinstance(self.jwks, dict) else None)


RegisterSmartAppResult = Annotated[
    SmartAppRegistration | ValidationError | ForbiddenError,
    strawberry.union("RegisterSmartAppResult"),
]


@strawberry.type
class SmartQuery:
    @strawberry.field(permission_classes=[has_role(Role.ADMIN)],
                      description="Registered SMART apps (admin)")
    async def smart_apps(self, info: Info) -> list[SmartAppType]:
        apps = await info.context.services.smart.apps.list(info.context.caller)
        return [SmartAppType.of(a) for a in apps]


@strawberry.type
class SmartMutation:
    @strawberry.mutation(description="Register a SMART app (admin); the client secret of a "
                                     "confidential app is answered once")
    async def register_smart_app(self, info: Info,
                                 input: SmartAppInput) -> RegisterSmartAppResult:
        try:
            found = await info.context.services.smart.apps.register(info.context.caller,
                                                                    input.to_domain())
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return SmartAppRegistration(app=SmartAppType.of(found.app),
                                    client_secret=found.client_secret)
