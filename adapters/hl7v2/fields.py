"""Reading HL7 v2 fields: components, repetitions, escapes, coded values (ER7 encoding).

The parser's field-level helpers; each reads only what it is asked for, so the hot path
resolves components and escapes for the fields the model needs and no others.
"""

from __future__ import annotations

from resolvers.labs.oru import MalformedMessage

from .encoding import Delimiters, unescape


def pad(fields: list[str], size: int) -> list[str]:
    if len(fields) < size:
        fields.extend([""] * (size - len(fields)))
    return fields


def first_rep(value: str, d: Delimiters) -> str:
    return value.split(d.repetition, 1)[0] if d.repetition in value else value


def comps(value: str, d: Delimiters, size: int) -> list[str]:
    return pad(value.split(d.component), size)


def c1(value: str, d: Delimiters, codec: str) -> str:
    """Component 1 of the first repetition, unescaped (first subcomponent too)."""
    if not value:
        return value
    if d.repetition in value:
        value = value.split(d.repetition, 1)[0]
    if d.component in value:
        value = value.split(d.component, 1)[0]
    if d.subcomponent in value:
        value = value.split(d.subcomponent, 1)[0]
    return unescape(value, d, codec) if d.escape in value else value


def hd(value: str, d: Delimiters, codec: str) -> str:
    """An HD field (MSH-3..6) as one text: its namespace, else its universal ID."""
    parts = comps(first_rep(value, d), d, 2)
    return unescape(parts[0] or parts[1], d, codec)


def composite(value: str, d: Delimiters, codec: str) -> str:
    """A composite value with components joined by ^ and subcomponents by &, unescaped."""
    if d.escape not in value and d.component == "^" and d.subcomponent == "&":
        return value
    return "^".join("&".join(unescape(s, d, codec) for s in c.split(d.subcomponent))
                    for c in value.split(d.component))


def text_value(value: str, d: Delimiters, codec: str) -> str:
    """A text field (TX, FT, NTE-3): repetitions are lines, delimiters inside kept as sent."""
    if d.repetition in value:
        return "\n".join(unescape(r, d, codec) for r in value.split(d.repetition))
    return unescape(value, d, codec)


def missing(field: str, what: str, location: str) -> MalformedMessage:
    return MalformedMessage(f"required field {field} ({what}) is missing", location=location,
                            hl7_error_code="101")


def coded(value: str, d: Delimiters, codec: str) -> tuple[str, str, str]:
    """CE/CWE (first repetition): code, text, system; the alternate triple if .1-.3 are empty."""
    c = comps(first_rep(value, d), d, 6)
    if not c[0] and not c[1] and (c[3] or c[4]):
        c = c[3:]
    return unescape(c[0], d, codec), unescape(c[1], d, codec), unescape(c[2], d, codec)
