"""Hypothesis strategies: valid documents and messages with something hostile put in.

The mutations are the ones that answered 500 or stored junk before the input rule: NUL and
lone surrogates, deep nesting, numbers beyond ±2^53 or not finite, very long strings, bytes
that are not UTF-8, and HL7 delimiters or escapes at random places.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

HOSTILE_TEXT = ["\x00", "\udc00", "\ud800", "\udfff", "a\x00b", "\x00" * 3, "\\u0000", "%00",
                "'", '"', "\\", "\u202e", "\ufeff", "😀", "|", "^~\\&"]

hostile_strings = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(min_size=0, max_size=40),
    st.builds(lambda n: "x" * n, st.sampled_from([256, 257, 2_049, 65_537, 70_000])),
    st.tuples(st.text(max_size=20), st.sampled_from(HOSTILE_TEXT), st.text(max_size=20))
    .map("".join),
)


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


hostile_values = st.one_of(
    hostile_strings,
    st.sampled_from([2**53, 2**53 + 1, -(2**53) - 1, 10**30, float("inf"), float("-inf"),
                     float("nan"), 1e308, -0.0, True, None, {}, []]),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    # Up to 900 deep: past 64 and the ~970 that once raised RecursionError in the gateway,
    # still under what json.dumps here can encode inside a document.
    st.integers(min_value=1, max_value=900).map(_nested),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = new if len(path) == 1 else _replace(doc[path[0]], path[1:], new)
    return copy


@st.composite
def mutated_document(draw: st.DrawFn, doc: dict[str, Any]) -> Any:
    """``doc`` with one to three values (or new keys) replaced by hostile ones."""
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        target = doc
        for step in path:
            target = target[step]
        if isinstance(target, dict) and draw(st.booleans()):
            doc = _replace(doc, (*path, draw(hostile_strings)), draw(hostile_values))
        else:
            doc = _replace(doc, path, draw(hostile_values))
    return doc


@st.composite
def json_body(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    """A mutated document serialised (NaN/Infinity spelled as Python does), sometimes with
    raw bytes spliced in at a random position (invalid UTF-8, a raw NUL, a stray bracket)."""
    raw = json.dumps(draw(mutated_document(doc)), ensure_ascii=True).encode()
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        at = draw(st.integers(min_value=0, max_value=len(raw)))
        junk = draw(st.sampled_from([b"\xff", b"\x00", b"\xed\xb0\x80", b"[", b"\\", b'"',
                                     b"\xc3", b"\\ud800"]))
        raw = raw[:at] + junk + raw[at:]
    return raw


HL7_INSERTS = ["\x00", "\udc00", "|", "^", "~", "\\", "&", "\r", "\n", r"\X00\ ", r"\X", "\x0b",
               "\x1c", "MSH|^~\\&|", "OBX|", "PID|", "x" * 70_000, "é", "\ufeff"]


@st.composite
def mutated_hl7(draw: st.DrawFn, messages: list[str]) -> str:
    """A valid message with insertions, deletions or a duplicated segment."""
    message = draw(st.sampled_from(messages))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.integers(min_value=0, max_value=3))
        at = draw(st.integers(min_value=0, max_value=len(message)))
        if kind <= 1:
            insert = draw(st.one_of(st.sampled_from(HL7_INSERTS), st.text(max_size=12)))
            message = message[:at] + insert + message[at:]
        elif kind == 2:
            end = draw(st.integers(min_value=at, max_value=min(len(message), at + 40)))
            message = message[:at] + message[end:]
        else:
            segments = message.split("\r")
            pick = draw(st.integers(min_value=0, max_value=len(segments) - 1))
            segments.insert(pick, segments[pick])
            message = "\r".join(segments)
    return message
