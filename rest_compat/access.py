"""The router's access check: 401/403 before the endpoint runs, and refusals audited.

Routes declare their roles (rest_compat/spec.py); the dispatcher calls :func:`guard` first,
so a caller without the right is refused before a byte of the body is read, parsed or
validated. The use cases keep their own role checks (GraphQL reaches them without this
router); a refusal here is recorded like theirs, because "who tried to reach whose data"
matters as much as who did.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.requests import Request

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import audit_records
from resolvers.errors import Forbidden
from resolvers.principal import Caller
from rest_compat.context import authenticate, authorize, request_id, services

if TYPE_CHECKING:
    from rest_compat.spec import Operation

# What a refused caller asked for, by route family, in the use cases' audit vocabulary.
_RESOURCE_OF_TAG = {"patients": "Patient", "organizations": "Organization",
                    "payments": "Payment", "admin": "AuditEvent"}
_ACTIONS = {"GET": AuditAction.READ, "HEAD": AuditAction.READ, "POST": AuditAction.CREATE,
            "PUT": AuditAction.UPDATE, "DELETE": AuditAction.DELETE}


async def guard(request: Request, op: Operation) -> None:
    """Authenticate and check the declared roles; public routes (roles None) pass through."""
    if op.roles is None:
        return
    try:
        authorize(request, op.roles, op.scopes)
    except Forbidden:
        await _record_refusal(request, op)
        raise


def _action(op: Operation) -> AuditAction:
    if "/_search" in op.path:
        return AuditAction.READ
    if "$" in op.path or op.path.endswith(("/replay", "/resolve", "/undo", "/acknowledge",
                                           "/refund", "/check")):
        return AuditAction.EXECUTE
    return _ACTIONS.get(op.method, AuditAction.EXECUTE)


async def _record_refusal(request: Request, op: Operation) -> None:
    params = {k: str(v) for k, v in request.path_params.items()}
    # The FHIR routes name the type in the path; otherwise the family's, else the route.
    resource_type = params.get("type") or _RESOURCE_OF_TAG.get(op.tag) or op.path
    resource_id = params.get("id") or next(reversed(params.values()), None)
    who = Caller(principal=authenticate(request), request_id=request_id(request),
                 surface="rest", purpose=request.headers.get("x-purpose-of-use", "")[:200])
    await services(request).audit.record(audit_records(
        who, action=_action(op), resource_type=resource_type,
        targets=[(resource_id, params.get("patient_id"))], outcome=AuditOutcome.DENIED,
        at=datetime.now(UTC)))
