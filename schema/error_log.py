"""What a failed GraphQL request leaves in the log: never its text or its variables.

Strawberry's default ``process_errors`` logs each error's message with the source excerpt
("GraphQL request:1:61 | mutation { createPatient(... family: \\"...\\") }"), and messages of
validation errors quote argument and variable values; either can hold a national id or a
name. We log the operation name, the error's code and class, and a hash of the document,
which is enough to find the same query again in a client's code or a replay.
"""

from __future__ import annotations

import hashlib
import logging
import re

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.types import ExecutionContext

from resolvers.errors import DomainError

log = logging.getLogger("cari.graphql")
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


def query_hash(query: str | None) -> str | None:
    """A short, stable id of the document: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(query.encode()).hexdigest()[:16] if query is not None else None


def _operation(context: ExecutionContext | None) -> str | None:
    if context is None:
        return None
    name = context.operation_name
    # The name may come from the request body, where it is any string at all.
    return name if name is not None and _NAME.fullmatch(name) else None


def is_expected(error: GraphQLError) -> bool:
    """Client mistakes and refusals; anything else is a fault of ours (and is masked).

    An error without a path arose before execution; one caused by a ValueError or TypeError
    there is a scalar refusing a variable's value (a date that is no date): the client's."""
    original = error.original_error
    scalar_refused = error.path is None and isinstance(original, (ValueError, TypeError))
    return (original is None or scalar_refused
            or isinstance(original, (GraphQLError, DomainError, PermissionError)))


def _code(error: GraphQLError) -> str:
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    original = error.original_error
    if isinstance(original, DomainError):
        return original.code
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if error.path is None:
        return "GRAPHQL_VALIDATION_FAILED" if original is None else "BAD_USER_INPUT"
    return "INTERNAL_SERVER_ERROR" if not is_expected(error) else "GRAPHQL_ERROR"


def _request_id(context: ExecutionContext | None) -> str | None:
    """The id the masked message asks the client to quote (see schema/http.py)."""
    caller = getattr(context.context, "caller", None) if context is not None else None
    request_id = getattr(caller, "request_id", None)
    return request_id if isinstance(request_id, str) and request_id else None


def log_graphql_errors(errors: list[GraphQLError], context: ExecutionContext | None) -> None:
    operation = _operation(context)
    request_id = _request_id(context)
    digest = query_hash(context.query if context is not None else None)
    for error in errors:
        code = _code(error)
        error_type = type(error.original_error or error).__name__
        expected = is_expected(error)
        # The traceback of our own faults is kept (the JSON formatter drops exception texts);
        # expected errors need none.
        log.log(logging.INFO if expected else logging.ERROR,
                "GraphQL error %s (%s) in operation %s, query %s", code, error_type,
                operation or "-", digest or "-",
                exc_info=None if expected else error.original_error,
                extra={"error_code": code, "error_type": error_type,
                       "graphql_operation": operation, "query_hash": digest,
                       "request_id": request_id})


class LoggedSchema(strawberry.federation.Schema):
    """The federation schema, logging errors as ``log_graphql_errors`` does."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        log_graphql_errors(errors, execution_context)
