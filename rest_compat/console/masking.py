"""Masking for the console: names, identifiers and phones shown partly until the operator
asks to see them (a reveal is a POST that the use case audits).

Enough is kept for a reviewer to tell two records apart at a glance (the first letter of a
name, the length, the last two digits of a phone), never enough to read the value.
"""

from __future__ import annotations

from collections.abc import Iterable

HIDDEN = "•"


def mask_word(value: str | None) -> str:
    """``Grace`` -> ``G••••``; each word of a name on its own."""
    if not value:
        return ""
    return " ".join(word[:1] + HIDDEN * (len(word) - 1) for word in value.split())


def mask_words(values: Iterable[str]) -> str:
    return " ".join(mask_word(v) for v in values if v)


def mask_identifier(value: str | None) -> str:
    """``NID9988`` -> ``•••••88``: the last two characters only."""
    if not value:
        return ""
    keep = 2 if len(value) > 4 else 0
    return HIDDEN * (len(value) - keep) + value[len(value) - keep:]


def mask_phone(value: str | None) -> str:
    """``+254712345678`` -> ``+•••••••••••78``: the plus sign and the last two digits."""
    if not value:
        return ""
    plus = "+" if value.startswith("+") else ""
    return plus + mask_identifier(value.removeprefix("+"))


def mask_date(value: str | None) -> str:
    """A birth date: the year only (``1985-••-••``)."""
    if not value:
        return ""
    return value[:4] + "-••-••" if len(value) >= 10 else HIDDEN * len(value)
