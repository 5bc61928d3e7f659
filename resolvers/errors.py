"""Expected failures of use cases. Each surface renders them in its own shape.

``code`` is the kind of failure (``conflict``, ``not_found``: what REST and GraphQL answer).
``reason_code`` is optional and finer: a stable name of this particular failure (e.g.
``review.task_already_decided``) with the values its text names in ``params``, so a
surface that speaks the operator's language (the console) can say it in that language;
``message`` stays the English text for every other surface and for a reason with no
translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, details: Any = None, reason_code: str | None = None,
                 params: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.reason_code = reason_code
        self.params: Mapping[str, object] = params or {}


class InvalidInput(DomainError):
    code = "validation_error"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Forbidden(DomainError):
    code = "forbidden"
