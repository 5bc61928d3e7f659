"""Decoding JSON request bodies: one rule at the boundary for every JSON route.

The rule itself (NUL, lone surrogates, depth, string length, number range) lives in
``resolvers.input_rules`` so webhooks, payment callbacks and HL7 apply the same one.
"""

from __future__ import annotations

from typing import Any

from resolvers.input_rules import InputRuleViolation
from resolvers.input_rules import decode_json as decode_checked_json


class JsonInputError(ValueError):
    """The body cannot be used as JSON; ``field`` names where, when known."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def decode_json(raw: bytes) -> Any:
    try:
        return decode_checked_json(raw)
    except InputRuleViolation as exc:
        raise JsonInputError(exc.message, exc.field) from None
