"""Pure ASGI middleware: the input rule applied to the path and query string of every route.

Bodies are checked by their own decoders (JSON, FHIR, forms, HL7, webhooks) after the
signature or size checks that must see the raw bytes; the path and the query string are
checked here, once, before routing, so no endpoint can forget. A refused request gets a 400
naming the parameter (REST envelope, or an OperationOutcome with ``expression`` on FHIR
routes) instead of a database error.

Authentication still comes first: the middleware only records the violation in the request
state; the router (after its token and role check) and the GraphQL gate (after its token
check) answer it with :func:`refuse_bad_input`, so a caller without a token gets 401
whatever the URL holds, and nothing from a refused URL reaches the database, not even the
audit record of a refusal.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from resolvers.fhir.errors import problem
from resolvers.input_rules import MAX_QUERY_VALUE, InputRuleViolation, check_text
from rest_compat.errors import is_fhir_request
from rest_compat.request_context import BadRequest

# Every identifier the gateway issues or stores fits in 64 characters (FHIR ids by the
# specification); a longer path segment can name nothing, and used to reach the database.
MAX_PATH_SEGMENT = 64
MAX_QUERY_NAME = 128


# The one longer segment: a DICOM viewer token (a PASETO v4.local the gateway signed; viewers
# put it in the path of every request). It is decrypted and verified, never looked up.
VIEWER_PREFIX = "/api/clinical/dicom/viewer/"
VIEWER_TOKEN_SEGMENT = 5  # "", api, clinical, dicom, viewer, <token>
MAX_VIEWER_TOKEN = 1_024


def check_path(path: str) -> None:
    check_text(path, "path", max_length=4_096)
    token_at = VIEWER_TOKEN_SEGMENT if path.startswith(VIEWER_PREFIX) else -1
    if any(len(segment) > (MAX_VIEWER_TOKEN if index == token_at else MAX_PATH_SEGMENT)
           for index, segment in enumerate(path.split("/"))):
        raise InputRuleViolation(
            f"a path segment is longer than {MAX_PATH_SEGMENT} characters", "path")


def check_query(query_string: bytes) -> None:
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True,
                          encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise InputRuleViolation("the query string is not UTF-8", "query") from None
    for name, value in pairs:
        check_text(name, "a query parameter name", max_length=MAX_QUERY_NAME)
        check_text(value, name, max_length=MAX_QUERY_VALUE)


VIOLATION = "input_violation"


def input_violation(scope: Scope) -> InputRuleViolation | None:
    found = scope.get("state", {}).get(VIOLATION)
    return found if isinstance(found, InputRuleViolation) else None


def refuse_bad_input(request: Request) -> None:
    """Raise the recorded violation, in the route family's error shape."""
    exc = input_violation(request.scope)
    if exc is None:
        return
    if is_fhir_request(request):
        raise problem(400, "value", exc.message, exc.field)
    raise BadRequest(exc.message, details={"field": exc.field})


class InputGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check_path(scope["path"])
                check_query(scope.get("query_string", b""))
            except InputRuleViolation as exc:
                scope.setdefault("state", {})[VIOLATION] = exc  # answered after auth
        await self.app(scope, receive, send)
