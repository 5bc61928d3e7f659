"""Per-request access to the use cases and to the authenticated caller."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from resolvers.authn import principal_from_authorization
from resolvers.errors import DomainError, Forbidden, InvalidInput
from resolvers.principal import Caller, Principal, Role
from resolvers.services import Services
from rest_compat.body import PayloadTooLarge, read_body
from rest_compat.json_input import JsonInputError, decode_json

__all__ = ["BadRequest", "PayloadTooLarge", "UnsupportedMediaType", "caller", "parse_body",
           "query_int", "services"]

M = TypeVar("M", bound=BaseModel)
MAX_JSON_BODY = 1_048_576


class BadRequest(DomainError):
    code = "bad_request"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def authenticate(request: Request) -> Principal:
    """The verified principal; the router verifies once and endpoints reuse it from the scope."""
    state = request.scope.setdefault("state", {})
    known = state.get("principal")
    if isinstance(known, Principal):
        return known
    principal = principal_from_authorization(services(request).authenticator,
                                             request.headers.get("authorization", ""))
    state["principal"] = principal
    state["subject"] = principal.subject
    return principal


def authorize(request: Request, roles: Sequence[str], scopes: Sequence[str] = ()) -> Principal:
    """401 without a valid token; 403 unless it has one of ``roles`` (admin always) or ``scopes``.

    Empty ``roles`` means any authenticated caller. The router calls this before the endpoint,
    so a caller without the right is refused before a byte of the body is read or judged.
    """
    principal = authenticate(request)
    if roles and Role.ADMIN not in principal.roles \
            and not any(r in principal.roles for r in roles) \
            and not any(s in principal.scopes for s in scopes):
        wanted = ", ".join(sorted({Role.ADMIN.value, *roles}))
        also = f" (or the scope {', '.join(scopes)})" if scopes else ""
        raise Forbidden(f"this action needs one of the roles: {wanted}{also}")
    return principal


def caller(request: Request) -> Caller:
    principal = authenticate(request)
    return Caller(principal=principal, request_id=request_id(request), surface="rest",
                  purpose=request.headers.get("x-purpose-of-use", "")[:200])


async def parse_body(request: Request, model: type[M], *, when_empty: M | None = None) -> M:
    """The JSON body as ``model``; ``when_empty`` (if given) stands for an absent body."""
    if when_empty is not None:
        raw = await read_body(request, MAX_JSON_BODY)  # bounded, like every other read
        if not raw:
            return when_empty
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("the request body must be application/json")
    if when_empty is None:
        raw = await read_body(request, MAX_JSON_BODY)
    try:
        data: Any = decode_json(raw)
    except JsonInputError as exc:
        raise BadRequest(exc.message, details={"field": exc.field}) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput("the request body is not valid", details=[
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]) from None


def query_int(request: Request, name: str, default: int, *, minimum: int = 1,
              maximum: int = 200) -> int:
    raw = request.query_params.get(name)
    if raw is None:  # absent: the default; an empty value is not a whole number
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number",
                           details=[{"field": name, "message": "not a whole number"}]) from None
    if not minimum <= value <= maximum:
        raise InvalidInput(f"{name} must be between {minimum} and {maximum}",
                           details=[{"field": name, "message": "out of range"}])
    return value


def if_match_version(request: Request) -> int | None:
    """The version in ``If-Match: W/"n"``; ValueError when the header is not such an ETag."""
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    digits = raw.strip().removeprefix("W/").strip('"')
    if not digits.isdigit():
        raise ValueError('If-Match must be a version ETag like W/"3"')
    return int(digits)
