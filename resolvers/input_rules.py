"""The one input-sanitising rule applied at every boundary (REST, FHIR, forms, query strings,
webhooks, payment callbacks, HL7v2).

Pure functions, no framework: REST, FHIR, webhook and HL7 adapters all call these, so a value
refused on one entrance is refused on every other. Refused: NUL (PostgreSQL text cannot hold
it, and nothing clinical contains it), lone surrogates (not encodable as UTF-8), nesting
deeper than ``MAX_DEPTH``, strings longer than ``MAX_STRING``, integers beyond what a JSON
peer can represent exactly (±2^53) and non-finite numbers.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64
MAX_STRING = 65_536
MAX_SAFE_INTEGER = 2**53
MAX_QUERY_VALUE = 2_048
MAX_PATH_SEGMENT = 256


class InputRuleViolation(ValueError):
    """Input the gateway refuses; ``field`` is a JSON-pointer-ish path (``name[0].family``)
    or a parameter name, ``body`` when the whole input is at fault."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class _At(Exception):
    """Raised inside the walk; each level on the way out prepends its key to the path, so
    paths are only built for the one value that failed (the walk is on the hot path)."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.path: list[str] = []


def text_problem(value: str, max_length: int = MAX_STRING) -> str | None:
    """Why ``value`` is not acceptable text, or None."""
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (not valid Unicode text)"
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    return None


def check_text(value: str, field: str, max_length: int = MAX_STRING) -> str:
    problem = text_problem(value, max_length)
    if problem:
        raise InputRuleViolation(f"{field} {problem}", field)
    return value


def _walk(value: Any, depth: int, max_string: int) -> None:
    if isinstance(value, str):
        problem = text_problem(value, max_string)
        if problem:
            raise _At(problem)
    elif isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise _At(f"is nested deeper than {MAX_DEPTH} levels")
        for key, item in value.items():
            try:
                problem = text_problem(key, max_string)
                if problem:
                    raise _At(f"(a key) {problem}")
                _walk(item, depth + 1, max_string)
            except _At as at:
                at.path.append(f".{key}" if text_problem(key) is None else ".<key>")
                raise
    elif isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise _At(f"is nested deeper than {MAX_DEPTH} levels")
        for index, item in enumerate(value):
            try:
                _walk(item, depth + 1, max_string)
            except _At as at:
                at.path.append(f"[{index}]")
                raise
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise _At(f"is a number beyond ±2^53 ({MAX_SAFE_INTEGER})")
    elif isinstance(value, float) and not math.isfinite(value):
        raise _At("is not a finite number")


def check_json_value(value: Any, max_string: int = MAX_STRING) -> Any:
    """``value`` unchanged when it follows the rule; InputRuleViolation naming the field."""
    try:
        _walk(value, 0, max_string)
    except _At as at:
        field = "".join(reversed(at.path)).lstrip(".") or "body"
        raise InputRuleViolation(f"{field} {at.message}", field) from None
    return value


def _refuse_constant(name: str) -> Any:
    raise InputRuleViolation(f"{name} is not a JSON number")


def decode_json(raw: bytes | str, max_string: int = MAX_STRING) -> Any:
    """JSON decoded and checked; InputRuleViolation for anything malformed or refused."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise InputRuleViolation(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise InputRuleViolation("the body is not UTF-8 text") from None
    except InputRuleViolation:
        raise
    except ValueError as exc:  # JSONDecodeError, and integers longer than Python converts
        raise InputRuleViolation(f"the body is not valid JSON: {exc}") from None
    return check_json_value(value, max_string)
