"""Optional strict structural validation of an HL7 v2 message with hl7apy.

Not on the ingest hot path: hl7apy's parse with group detection plus its validator costs
~10-25 ms per ORU^R01 (see ``benchmarks/hl7_parse.py``), two orders of magnitude more than
:func:`adapters.hl7v2.parser.parse_oru`. It pays when a person looks at the answer: on-boarding
a new laboratory, a diagnostics endpoint, or a test that a generated message is conformant.
It checks what the fast parser deliberately tolerates: segment order and groups against the
official message structure of MSH-12's version, cardinalities, data types, lengths and table
values (the last two as warnings).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from resolvers.labs.model import MalformedMessage

from .encoding import decode_message

__all__ = ["validate_structure"]


def validate_structure(raw: bytes | str, *, warnings: bool = False) -> list[str]:
    """Every structural error hl7apy finds (``[]`` when the message is valid); with
    ``warnings`` also length and table-value findings, prefixed ``Warning:``."""
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.parser import parse_message

    try:
        text = decode_message(bytes(raw)) if not isinstance(raw, str) else raw
    except MalformedMessage as exc:
        return [str(exc)]
    text = text.strip(" \t\r\n\x0b\x1c\ufeff").replace("\r\n", "\r").replace("\n", "\r")
    if not text.startswith("MSH"):
        return ["the message must start with an MSH segment"]
    try:
        message = parse_message(text, validation_level=VALIDATION_LEVEL.TOLERANT,
                                find_groups=True)
    except Exception as exc:  # hl7apy raises many unrelated types for unreadable input
        return [f"hl7apy cannot parse the message: {type(exc).__name__}: {exc}"]
    fd, name = tempfile.mkstemp(prefix="hl7apy-report-", suffix=".txt")
    os.close(fd)
    report = Path(name)
    try:
        try:
            message.validate(report_file=str(report))
        except Exception:  # noqa: S110 - every finding is in the report read below
            pass
        lines = report.read_text(encoding="utf-8").splitlines()
    finally:
        report.unlink(missing_ok=True)
    findings = [line.removeprefix("Error: ") for line in lines if line.startswith("Error: ")]
    if warnings:
        findings += [line for line in lines if line.startswith("Warning: ")]
    return findings
