"""Decoding JSON request bodies: one rule at the boundary for every JSON route."""

from __future__ import annotations

import json
from typing import Any


class JsonInputError(ValueError):
    """The body cannot be used as JSON; ``field`` names where, when known."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def decode_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise JsonInputError("the request body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonInputError(f"the request body is not valid JSON: {exc}") from None
