"""Exceptions translated at the boundary: one envelope, the right status, never a stack trace."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from resolvers.errors import DomainError
from resolvers.fhir.errors import FhirProblem
from resolvers.fhir.issues import operation_outcome as operation_outcome_of
from rest_compat.envelope import error, fhir_json, operation_outcome
from rest_compat.request_context import request_id

log = logging.getLogger("cari.http")

WWW_AUTHENTICATE = 'Bearer realm="cari-gateway", error="invalid_token"'
HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type"}


def is_fhir_request(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/fhir") or (path.startswith("/api/mpi/") and path.endswith("/fhir"))


def render_error(request: Request, code: str, message: str, details: object = None,
                 status: int | None = None) -> Response:
    headers = {"WWW-Authenticate": WWW_AUTHENTICATE} if code == "unauthenticated" else None
    if is_fhir_request(request):
        response = operation_outcome(code, message, status)
        if headers:
            response.headers.update(headers)
        return response
    return error(code, message, details, status, headers=headers)


async def domain_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if isinstance(exc, FhirProblem):
        return fhir_json(operation_outcome_of(exc.issues), exc.status)
    if exc.code in ("unauthenticated", "forbidden"):
        log.info("access refused", extra={"error_code": exc.code,
                                          "request_id": request_id(request)})
    return render_error(request, exc.code, exc.message, exc.details)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "error")
    message = {404: "no such route", 405: "method not allowed on this route"}.get(
        exc.status_code, str(exc.detail))
    response = render_error(request, code, message, status=exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id(request)})
    return render_error(request, "internal_error",
                        f"internal error; quote request id {request_id(request)}", status=500)
