"""Field permissions: role checks before a resolver runs (use cases check again)."""

from typing import Any

from strawberry.permission import BasePermission

from resolvers.principal import Role
from schema.context import Info


def has_role(*roles: Role) -> type[BasePermission]:
    wanted = ", ".join(sorted({Role.ADMIN, *roles}))

    class HasRole(BasePermission):
        message = f"this field needs one of the roles: {wanted}"
        error_extensions = {"code": "FORBIDDEN"}

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            return info.context.caller.principal.has_any_role(*roles)

    HasRole.__name__ = f"HasRole_{'_'.join(sorted(roles)) or 'admin'}"
    return HasRole


IsAdmin = has_role()
