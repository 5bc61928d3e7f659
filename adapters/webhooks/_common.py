"""Small helpers the verifiers share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from resolvers.input_rules import InputRuleViolation, decode_json
from resolvers.webhooks.errors import MalformedDelivery


def decode_utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedDelivery("the body is not UTF-8 text", reason="malformed_body") from None


def json_object(text: str | bytes) -> dict[str, Any]:
    """The verified body decoded under the gateway's input rule. A refusal is a 400 (never a
    500, which the provider would retry for days): NUL, lone surrogates, deep nesting."""
    try:
        data = decode_json(text)
    except InputRuleViolation as exc:
        raise MalformedDelivery(f"the body is malformed: {exc.message}",
                                reason="malformed_body") from None
    if not isinstance(data, dict):
        raise MalformedDelivery("the body is not a JSON object", reason="malformed_body")
    return data


def short(value: Any, limit: int) -> str | None:
    """A string field cut to a column's length, or None when absent or not a string."""
    return value[:limit] if isinstance(value, str) and value else None


def nested(data: Mapping[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)  # type: ignore[assignment]
    return data
