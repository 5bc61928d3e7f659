"""An HL7 v2 message shown segment by segment, each field with its position (PID-5), and the
fields that identify a person masked until an operator asks to see them.

Positions follow the standard's numbering: in MSH the field separator itself is MSH-1, so
the text after the first separator is MSH-2 (the encoding characters); in every other
segment the text after the segment name's separator is field 1.
"""

from __future__ import annotations

from dataclasses import dataclass

# Fields that name or identify a person (PID, its next of kin, the ordering provider is not
# a patient and is shown): identifiers, names, birth date, address, phones, SSN, driver's licence.
PERSON_FIELDS: dict[str, frozenset[int]] = {
    "PID": frozenset({2, 3, 4, 5, 6, 7, 9, 11, 13, 14, 19, 20}),
    "NK1": frozenset({2, 4, 5, 6}),
    "PV1": frozenset({19}),  # visit number
    "IN1": frozenset({16, 19, 36}),
}
MASK = "•••"


@dataclass(frozen=True)
class Hl7Field:
    position: str  # PID-5
    value: str
    masked: bool = False


@dataclass(frozen=True)
class Hl7Segment:
    name: str
    fields: tuple[Hl7Field, ...]


def mask(value: str) -> str:
    """Enough to tell two values apart at a glance (the first character), nothing more."""
    return f"{value[0]}{MASK}" if value else ""


def segments(raw: str, *, reveal: bool) -> list[Hl7Segment]:
    lines = [ln for ln in raw.replace("\r\n", "\r").replace("\n", "\r").split("\r") if ln.strip()]
    if not lines:
        return []
    separator = lines[0][3] if lines[0].startswith("MSH") and len(lines[0]) > 3 else "|"
    out: list[Hl7Segment] = []
    for line in lines:
        name, *values = line.split(separator)
        name = name.strip()[:3]
        first = 2 if name == "MSH" else 1  # MSH-1 is the separator itself
        fields: list[Hl7Field] = []
        if name == "MSH":
            fields.append(Hl7Field("MSH-1", separator))
        hidden = PERSON_FIELDS.get(name, frozenset())
        for offset, value in enumerate(values):
            number = first + offset
            secret = number in hidden and bool(value) and not reveal
            fields.append(Hl7Field(f"{name}-{number}", mask(value) if secret else value,
                                   masked=secret))
        out.append(Hl7Segment(name, tuple(fields)))
    return out


def as_text(parts: list[Hl7Segment]) -> str:
    """The (possibly masked) message as text again, one segment per line."""
    separator = parts[0].fields[0].value if parts and parts[0].name == "MSH" else "|"
    lines = []
    for seg in parts:
        values = [f.value for f in seg.fields]
        if seg.name == "MSH":
            lines.append("MSH" + separator + separator.join(values[1:]))
        else:
            lines.append(separator.join([seg.name, *values]))
    return "\n".join(lines)
