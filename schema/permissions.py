"""Field permissions: role checks before a resolver runs (use cases check again).

A refusal here never reaches the use case, so it is audited here: who, which field, and the
patient the field concerns when the arguments or the parent object name one.
"""

from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLResolveInfo, OperationType
from strawberry.permission import BasePermission

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import audit_records
from resolvers.principal import Role
from schema.graphql_context import GraphQLContext, Info


def _patient_concerned(source: Any, info: Info, kwargs: dict[str, Any]) -> str | None:
    if (info.path.typename or "Query") == "Patient" and getattr(source, "id", None):
        return str(source.id)
    for name in ("patient_id", "patientId", "national_id"):  # national_id: crossBorderPatients
        if kwargs.get(name):
            return str(kwargs[name])
    if info.field_name == "patient" and kwargs.get("id"):
        return str(kwargs["id"])
    return None


async def audit_refusal(source: Any, info: Info, kwargs: dict[str, Any]) -> None:
    mutation = info.operation.operation == OperationType.MUTATION
    await info.context.services.audit.record(audit_records(
        info.context.caller, action=AuditAction.EXECUTE if mutation else AuditAction.READ,
        resource_type=f"graphql:{info.path.typename or 'Query'}.{info.field_name}"[:64],
        targets=[(None, _patient_concerned(source, info, kwargs))],
        outcome=AuditOutcome.DENIED, at=datetime.now(UTC)))


def has_role(*roles: Role) -> type[BasePermission]:
    wanted = ", ".join(sorted({Role.ADMIN, *roles}))

    class HasRole(BasePermission):
        message = f"this field needs one of the roles: {wanted}"
        error_extensions = {"code": "FORBIDDEN"}

        async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            if info.context.caller.principal.has_any_role(*roles):
                return True
            await audit_refusal(source, info, kwargs)
            return False

        @staticmethod
        def grants(info: GraphQLResolveInfo[Any]) -> bool:
            """has_permission's yes, without its await (schema/fast_resolvers.py)."""
            context: GraphQLContext = info.context
            return context.caller.principal.has_any_role(*roles)

    HasRole.__name__ = f"HasRole_{'_'.join(sorted(roles)) or 'admin'}"
    return HasRole


IsAdmin = has_role()
