"""Who is calling, and the role rule every use case applies."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from resolvers.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    CLINICIAN = "clinician"
    LAB = "lab"
    PUBLIC_HEALTH = "public_health"
    BILLING = "billing"
    INTEGRATOR = "integrator"


KNOWN_ROLES = frozenset(r.value for r in Role)


@dataclass(frozen=True)
class SmartContext:
    """What a SMART access token carries beside its scopes (resolvers/smart): the app, the
    launch context and the token's id. Tokens without it are the platform's own."""

    client_id: str
    patient: str | None = None
    encounter: str | None = None
    fhir_user: str | None = None
    jti: str = ""


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    scopes: frozenset[str] = frozenset()
    issuer: str = ""
    organization: str | None = None  # the token's org claim (organization scoping)
    smart: SmartContext | None = None  # a SMART app's access token (its "smart" claim)

    def has_any_role(self, *roles: Role) -> bool:
        # admin may do everything.
        return Role.ADMIN in self.roles or any(r in self.roles for r in roles)


@dataclass(frozen=True)
class Caller:
    """The principal plus what the audit trail needs about the request."""

    principal: Principal
    request_id: str = ""
    surface: str = "internal"
    purpose: str = field(default="")


def require_role(caller: Caller, *roles: Role) -> None:
    if not caller.principal.has_any_role(*roles):
        wanted = ", ".join(sorted({Role.ADMIN, *roles}))
        raise Forbidden(f"this action needs one of the roles: {wanted}")
