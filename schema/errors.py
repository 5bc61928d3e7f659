"""Expected failures as GraphQL types (members of result unions), built from domain errors."""

from typing import Any

import strawberry

from resolvers.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound


@strawberry.interface
class UserError:
    message: str
    code: str


@strawberry.type
class FieldProblem:
    field: str
    message: str


@strawberry.type
class ValidationError(UserError):
    problems: list[FieldProblem]


@strawberry.type
class NotFoundError(UserError):
    pass


@strawberry.type
class ConflictError(UserError):
    pass


@strawberry.type
class ForbiddenError(UserError):
    pass


def _problems(details: Any) -> list[FieldProblem]:
    if not isinstance(details, list):
        return []
    return [FieldProblem(field=str(d.get("field", "")), message=str(d.get("message", "")))
            for d in details if isinstance(d, dict)]


def to_user_error(exc: DomainError) -> UserError:
    """Translate an expected failure; anything else propagates and is masked."""
    if isinstance(exc, InvalidInput):
        return ValidationError(message=exc.message, code=exc.code, problems=_problems(exc.details))
    if isinstance(exc, NotFound):
        return NotFoundError(message=exc.message, code=exc.code)
    if isinstance(exc, Conflict):
        return ConflictError(message=exc.message, code=exc.code)
    if isinstance(exc, Forbidden):
        return ForbiddenError(message=exc.message, code=exc.code)
    raise exc
