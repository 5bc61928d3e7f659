"""Characters an HL7 message may not carry into storage: NUL and lone surrogates.

The gateway's input rule (``resolvers.input_rules``) for HL7 text. PostgreSQL refuses NUL in
text (the ingest was a 500, and over MLLP an AR, so the lab resent forever) and SQLite kept
it. The refusal is a :class:`MalformedMessage` (HTTP 400, MLLP AE: the lab must correct the
message, resending it unchanged cannot help) naming the field, e.g. ``PID^1^5``.

The common case is two C-level scans of the text (``in`` and ``isascii``); the field is only
located when something was found.
"""

from __future__ import annotations

import re

from resolvers.labs.oru import MalformedMessage

from .encoding import Delimiters

_NUL = "\x00"


def _surrogate_at(text: str) -> int:
    """Index of the first lone surrogate, or -1 (only called on non-ASCII text)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return -1


def _hex_nul_at(text: str, d: Delimiters) -> int:
    """Index of an ``\\Xhh..\\`` escape that unescapes to a NUL byte, or -1."""
    esc = re.escape(d.escape)
    for found in re.finditer(f"{esc}X((?:[0-9A-Fa-f]{{2}})+){esc}", text):
        digits = found.group(1)
        if any(digits[i:i + 2] == "00" for i in range(0, len(digits), 2)):
            return found.start()
    return -1


def _location(segments: list[str], index: int, d: Delimiters) -> str:
    """ERR-2 style ``SEG^occurrence^field`` of the character at ``index`` of the joined
    segments (one separator between segments, as :func:`check_characters` joins them)."""
    counts: dict[str, int] = {}
    for segment in segments:
        name = segment[:3]
        counts[name] = counts.get(name, 0) + 1
        if index <= len(segment):
            field = segment[:index].count(d.field) + (1 if name == "MSH" else 0)
            return f"{name}^{counts[name]}^{field}" if field else f"{name}^{counts[name]}"
        index -= len(segment) + 1
    return ""


def check_characters(text: str, segments: list[str], d: Delimiters) -> None:
    """MalformedMessage naming the first field with a NUL (sent or escaped) or a lone
    surrogate; nothing when the message is clean. ``segments`` are ``text`` split."""
    if _NUL not in text and text.isascii() and f"{d.escape}X" not in text:
        return  # the common case: no copy of the text, three C-level scans
    joined = "\r".join(segments)
    at, what = -1, ""
    if _NUL in joined:
        at, what = joined.index(_NUL), "a NUL character"
    elif not joined.isascii():
        at, what = _surrogate_at(joined), "a lone surrogate (not valid Unicode text)"
    if at < 0 and f"{d.escape}X" in joined:
        at, what = _hex_nul_at(joined, d), "an escape (\\X00\\) that decodes to a NUL character"
    if at < 0:
        return
    location = _location(segments, at, d)
    raise MalformedMessage(f"{location or 'the message'} contains {what}; correct the field "
                           "and send the message again", location=location, hl7_error_code="102")
