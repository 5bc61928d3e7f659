"""NUL and lone surrogates in an HL7 message: refused naming the field (was a 500 and an AR
on PostgreSQL, stored as sent on SQLite)."""

from __future__ import annotations

import pytest

from adapters.hl7v2.parser import parse_oru
from resolvers.labs.oru import MalformedMessage
from tests.hl7v2.messages import WORKED_EXAMPLE, WORKED_EXAMPLE_SEGMENTS


def _with(segment: str, old: str, new: str) -> str:
    segments = list(WORKED_EXAMPLE_SEGMENTS)
    index = next(i for i, s in enumerate(segments) if s.startswith(segment))
    assert old in segments[index]
    segments[index] = segments[index].replace(old, new, 1)
    return "\r".join(segments)


@pytest.mark.parametrize(("message", "location"), [
    (_with("PID", "ODHIAMBO", "ODH\x00IAMBO"), "PID^1^5"),
    (_with("PID", "ODHIAMBO", "ODH\udc00IAMBO"), "PID^1^5"),
    (_with("OBX|2", ">^900", ">^9\x0000"), "OBX^2^5"),
    (_with("NTE", "Not hemolysed", r"Not \X00\hemolysed"), "NTE^1^3"),
    (_with("NTE", "Not hemolysed", r"Not \X4100\hemolysed"), "NTE^1^3"),
    (_with("MSH", "LABSYS", "LAB\x00SYS"), "MSH^1^3"),
    (WORKED_EXAMPLE + "\x00", "OBX^2^14"),
])
def test_refused_naming_the_field(message: str, location: str) -> None:
    with pytest.raises(MalformedMessage) as refused:
        parse_oru(message)
    assert refused.value.location == location
    assert refused.value.hl7_error_code == "102"


def test_as_bytes_too() -> None:
    with pytest.raises(MalformedMessage) as refused:
        parse_oru(_with("PID", "ODHIAMBO", "ODH\x00IAMBO").encode())
    assert refused.value.location == "PID^1^5"


@pytest.mark.parametrize("message", [
    WORKED_EXAMPLE,
    _with("PID", "ODHIAMBO", "ÖDHIÅMBO 😀"),
    _with("NTE", "Not hemolysed", r"Not \X41\hemolysed"),
    _with("NTE", "Not hemolysed", r"Not \X3030\hemolysed"),  # the text "00", no NUL byte
])
def test_clean_text_still_parses(message: str) -> None:
    assert parse_oru(message).patient is not None
