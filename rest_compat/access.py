"""The router's access check: 401/403 before the endpoint runs, and refusals audited.

Routes declare their roles (rest_compat/spec.py); the dispatcher calls :func:`guard` first,
so a caller without the right is refused before a byte of the body is read, parsed or
validated. The use cases keep their own role checks (GraphQL reaches them without this
router); a refusal here is recorded like theirs, because "who tried to reach whose data"
matters as much as who did.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.requests import Request

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import audit_records
from resolvers.errors import Forbidden, Unauthenticated
from resolvers.principal import Caller
from rest_compat.input_guard import input_violation, refuse_bad_input
from rest_compat.request_context import authenticate, authorize, request_id, services

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
        refuse_bad_input(request)
        return
    try:
        principal = authorize(request, op.roles, op.scopes)
        if principal.smart is not None and not op.path.startswith("/api/fhir"):
            raise Forbidden("a SMART app's access token is accepted by the FHIR API "
                            "(/api/fhir) only")
        if principal.smart is not None and await services(request).smart.tokens.revoked(
                principal.smart.jti):
            raise Unauthenticated("the access token was revoked")
    except Forbidden:
        if input_violation(request.scope) is None:  # a refused URL is not audit material
            await _record_refusal(request, op)
        raise
    refuse_bad_input(request)


def _action(op: Operation) -> AuditAction:
    if "/_search" in op.path:
        return AuditAction.READ
    if "$" in op.path or op.path.endswith(("/replay", "/resolve", "/undo", "/acknowledge",
                                           "/refund", "/check")):
        return AuditAction.EXECUTE
    return _ACTIONS.get(op.method, AuditAction.EXECUTE)


def _named_patients(request: Request, params: dict[str, str]) -> list[str]:
    """The patients the URL names: a path or query patient_id, FHIR patient=/subject=, the
    national id a cross-border lookup asks for."""
    query = request.query_params
    named = [params.get("patient_id"), query.get("patient_id"), query.get("patient"),
             query.get("subject"), params.get("national_id")]
    return list(dict.fromkeys(n.removeprefix("Patient/") for n in named if n))


async def _recorded_by(use_case: Awaitable[object]) -> bool:
    """Run a use case's own role check for its audit record: True when it refused too."""
    try:
        await use_case
    except Forbidden:
        return True
    return False


async def _record_refusal(request: Request, op: Operation) -> None:
    params = {k: str(v) for k, v in request.path_params.items()}
    who = Caller(principal=authenticate(request), request_id=request_id(request),
                 surface="rest", purpose=request.headers.get("x-purpose-of-use", "")[:200])
    action = _action(op)
    patients = _named_patients(request, params)
    found = services(request)
    # A URL that names a stored resource: its use case names that resource's patient in the
    # denial (it reads it for the record only; the caller gets nothing of it).
    if "type" in params and await _recorded_by(found.fhir.authorize(
            who, action, params["type"], params.get("id"), patients)):
        return
    if "payment_id" in params and await _recorded_by(
            found.payments.use_cases.get(who, params["payment_id"])):
        return
    # Otherwise the family's resource type, else the route, and what the URL names.
    resource_type = params.get("type") or _RESOURCE_OF_TAG.get(op.tag) or op.path
    resource_id = params.get("id") if "type" in params else next(reversed(params.values()),
                                                                  None)
    await found.audit.record(audit_records(
        who, action=action, resource_type=resource_type,
        targets=[(resource_id, p) for p in patients] or [(resource_id, None)],
        outcome=AuditOutcome.DENIED, at=datetime.now(UTC)))
