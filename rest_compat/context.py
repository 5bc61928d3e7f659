"""Per-request access to the use cases and to the authenticated caller."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from resolvers.authn import principal_from_authorization
from resolvers.errors import DomainError, InvalidInput
from resolvers.principal import Caller, Principal
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
    return principal_from_authorization(services(request).authenticator,
                                        request.headers.get("authorization", ""))


def caller(request: Request) -> Caller:
    principal = authenticate(request)
    request.scope.setdefault("state", {})["subject"] = principal.subject
    return Caller(principal=principal, request_id=request_id(request), surface="rest",
                  purpose=request.headers.get("x-purpose-of-use", "")[:200])


async def parse_body(request: Request, model: type[M]) -> M:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("the request body must be application/json")
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
    if raw is None or raw == "":
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
