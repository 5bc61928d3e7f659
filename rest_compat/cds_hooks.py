"""CDS Hooks 2.0 routes: discovery (public), service calls and feedback.

Calls and feedback answer at the specification's paths (``/cds-services/{id}``) and at the
product documentation's (``/cds-hooks/{id}``). The caller is authenticated here, not by the
router: CDS clients send either the platform's PASETO or their own JWT, whose ``aud`` must
be the URL called (resolvers/cds/hooks/wiring.py). Errors are FHIR OperationOutcomes (as
CDS Hooks 3.0 advises) in ``application/json``; ``issue[0].expression`` names the request
field at fault.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from resolvers.cds.hooks.model import BadHookRequest
from resolvers.errors import DomainError
from resolvers.principal import Caller, Principal
from rest_compat.body import read_body
from rest_compat.envelope import FHIR_ISSUE_CODE, JSONResponse, NativeJSONResponse
from rest_compat.errors import WWW_AUTHENTICATE
from rest_compat.json_input import JsonInputError, decode_json
from rest_compat.request_context import UnsupportedMediaType, request_id, services
from rest_compat.spec import Operation, QueryParam, api_route

log = logging.getLogger("cari.http")
MAX_BODY = 2_097_152
STATUS = {"bad_request": 400, "validation_error": 400, "unauthenticated": 401,
          "forbidden": 403, "not_found": 404, "precondition_failed": 412,
          "payload_too_large": 413, "unsupported_media_type": 415}
JSON_TYPES = ("application/json", "application/fhir+json")
PATHS = ("/cds-services", "/cds-hooks")


def outcome(exc: DomainError) -> Response:
    issue: dict[str, Any] = {"severity": "error",
                             "code": "processing" if exc.code == "precondition_failed"
                             else FHIR_ISSUE_CODE.get(exc.code, "invalid"),
                             "diagnostics": exc.message}
    if isinstance(exc.details, dict) and isinstance(exc.details.get("field"), str):
        issue["expression"] = [exc.details["field"]]
    status = STATUS.get(exc.code, 400)
    headers = {"WWW-Authenticate": WWW_AUTHENTICATE} if status == 401 else None
    return JSONResponse({"resourceType": "OperationOutcome", "issue": [issue]},
                        status_code=status, headers=headers)


def _audiences(request: Request, service_id: str, tail: str = "") -> list[str]:
    base = request.app.state.settings.public_base_url
    return [f"{base}{prefix}/{service_id}{tail}" for prefix in PATHS]


async def _caller(request: Request, tail: str) -> Caller:
    audiences = _audiences(request, request.path_params["service_id"], tail)
    principal: Principal = await services(request).cds.authenticate(
        request.headers.get("authorization", ""), audiences)
    state = request.scope.setdefault("state", {})
    state["principal"], state["subject"] = principal, principal.subject
    return Caller(principal=principal, request_id=request_id(request), surface="rest",
                  purpose=request.headers.get("x-purpose-of-use", "")[:200])


async def _body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        raise UnsupportedMediaType("the request body must be application/json")
    try:
        return decode_json(await read_body(request, MAX_BODY))
    except JsonInputError as exc:
        raise BadHookRequest(exc.field, exc.message) from None


def _refused(request: Request, exc: DomainError) -> Response:
    if exc.code in ("unauthenticated", "forbidden"):  # as the router logs its refusals
        log.info("access refused", extra={"error_code": exc.code,
                                          "request_id": request_id(request)})
    return outcome(exc)


async def discovery(request: Request) -> Response:
    return JSONResponse(services(request).cds.hooks.discovery())


async def invoke(request: Request) -> Response:
    try:
        who = await _caller(request, "")
        body = await _body(request)
        answer = await services(request).cds.hooks.invoke(
            who, request.path_params["service_id"], body)
    except DomainError as exc:
        return _refused(request, exc)
    return NativeJSONResponse(answer)


async def feedback(request: Request) -> Response:
    try:
        who = await _caller(request, "/feedback")
        body = await _body(request)
        await services(request).cds.feedback.receive(who, request.path_params["service_id"],
                                                     body)
    except DomainError as exc:
        return _refused(request, exc)
    return Response(status_code=200)


# -- declarations --------------------------------------------------------------------------

OUTCOME = {"type": "object", "required": ["resourceType", "issue"], "properties": {
    "resourceType": {"enum": ["OperationOutcome"]},
    "issue": {"type": "array", "minItems": 1, "items": {"type": "object"}}}}
# The router's own refusals (a malformed URL, a rate limit) keep the gateway's envelope.
ERROR = {"description": "An OperationOutcome (or the gateway's error envelope for refusals "
                        "before the route)", "content": {"application/json": {"schema": {
                            "anyOf": [OUTCOME, {"$ref": "#/components/schemas/ErrorEnvelope"}]}}}}
DISCOVERY = {"200": {"description": "CDS Hooks discovery", "content": {"application/json": {
    "schema": {"type": "object", "required": ["services"], "properties": {
        "services": {"type": "array", "items": {
            "type": "object", "required": ["hook", "description", "id"],
            "properties": {"hook": {"type": "string"}, "title": {"type": "string"},
                           "description": {"type": "string"}, "id": {"type": "string"},
                           "prefetch": {"type": "object"}}}}}}}}}}
CARDS = {"200": {"description": "Cards (an empty array: no advice)", "content": {
    "application/json": {"schema": {"type": "object", "required": ["cards"], "properties": {
        "cards": {"type": "array", "items": {
            "type": "object", "required": ["summary", "indicator", "source"], "properties": {
                "uuid": {"type": "string"}, "summary": {"type": "string", "maxLength": 140},
                "indicator": {"enum": ["info", "warning", "critical"]},
                "source": {"type": "object", "required": ["label"]}}}}}}}}},
    **{str(s): ERROR for s in (400, 401, 403, 404, 412, 413, 415, 429, 500)}}
FEEDBACK_ANSWERS = {"200": {"description": "Feedback kept"},
                    **{str(s): ERROR for s in (400, 401, 403, 404, 413, 415, 429, 500)}}
REQUEST = {"application/json": {"schema": {
    "type": "object", "required": ["hook", "hookInstance", "context"], "properties": {
        "hook": {"type": "string"}, "hookInstance": {"type": "string"},
        "fhirServer": {"type": "string"}, "fhirAuthorization": {"type": "object"},
        "context": {"type": "object"}, "prefetch": {"type": "object"}}}}}
FEEDBACK_BODY = {"application/json": {"schema": {
    "type": "object", "required": ["feedback"], "properties": {"feedback": {
        "type": "array", "items": {"type": "object", "required": ["card", "outcome"],
                                   "properties": {"card": {"type": "string"},
                                                  "outcome": {"enum": ["accepted",
                                                                       "overridden"]},
                                                  "overrideReason": {"type": "object"}}}}}}}}
_ID = QueryParam("service_id", "The CDS service id (GET /cds-services lists them)",
                 location="path", required=True)
AUTH = "Bearer PASETO (roles clinician, integrator) or a registered CDS client's JWT"


def _calls(prefix: str) -> list[Operation]:
    return [
        api_route("POST", f"{prefix}/{{service_id}}", invoke, summary=f"Call a CDS service "
                  f"({AUTH})", tag="cds", envelope=False, params=(_ID,),
                  request_body_schema=REQUEST, raw_responses=CARDS),
        api_route("POST", f"{prefix}/{{service_id}}/feedback", feedback, summary="Feedback "
                  f"on a service's cards ({AUTH})", tag="cds", envelope=False, params=(_ID,),
                  request_body_schema=FEEDBACK_BODY, raw_responses=FEEDBACK_ANSWERS),
    ]


operations: list[Operation] = [
    api_route("GET", "/cds-services", discovery, summary="CDS Hooks discovery (public)",
              tag="cds", envelope=False, raw_responses=DISCOVERY),
    *_calls("/cds-services"),
    *_calls("/cds-hooks"),
]
