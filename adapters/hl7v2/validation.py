"""Optional strict structural validation of an HL7 v2 message with hl7apy.

Not on the ingest hot path: hl7apy's parse with group detection plus its validator costs
~10-25 ms per ORU^R01 (see ``benchmarks/hl7_parse.py``), two orders of magnitude more than
:func:`adapters.hl7v2.parser.parse_oru`. It pays when a person looks at the answer: on-boarding
a new laboratory, a diagnostics endpoint, or a test that a generated message is conformant.
It checks what the fast parser deliberately tolerates: segment order and groups against the
official message structure of MSH-12's version, cardinalities, data types, lengths and table
values (the last two as warnings).

hl7apy's group finder silently re-orders misplaced segments (an OBX before its OBR passes)
and drops unknown ones, so the segment order is checked here first, against the v2.5
ORU_R01 grammar (a superset of 2.3/2.4 for these segments; Z-segments allowed anywhere).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from resolvers.labs.oru import MalformedMessage

from .encoding import decode_message

__all__ = ["validate_structure"]

# MSH [{SFT}] { [PID [PD1] [{NTE}] [{NK1}] [PV1 [PV2]]]
#   { [ORC] OBR [{NTE}] [{TQ1 [{TQ2}]}] [CTD] [{OBX [{NTE}]}] [{FT1}] [{CTI}] [{SPM [{OBX}]}] } }
# [DSC] -- over segment IDs joined by spaces; possessive quantifiers, so no backtracking.
_ORDER = "(?:ORC )?+OBR (?:NTE )*+(?:TQ1 (?:TQ2 )*+)*+(?:CTD )?+(?:OBX (?:NTE )*+)*+" \
         "(?:FT1 )*+(?:CTI )*+(?:SPM (?:OBX )*+)*+"
_PATIENT = "(?:PID (?:PD1 )?+(?:NTE )*+(?:NK1 )*+(?:PV1 (?:PV2 )?+)?+)?+"
_ORU_R01 = re.compile(f"MSH (?:SFT )*+(?:{_PATIENT}(?:{_ORDER})++)++(?:DSC )?+")
_KNOWN = frozenset("MSH SFT PID PD1 NTE NK1 PV1 PV2 ORC OBR TQ1 TQ2 CTD OBX FT1 CTI SPM "
                   "DSC".split())


def _segment_order(text: str) -> list[str]:
    names = [s[:3] for s in text.split("\r") if s.strip()]
    findings = [f"unknown segment {n!r} (segment {i + 1})" for i, n in enumerate(names)
                if n not in _KNOWN and not n.startswith("Z")]
    known = [(i + 1, n) for i, n in enumerate(names) if n in _KNOWN]
    tokens = [n for _, n in known]
    if _ORU_R01.fullmatch(" ".join(tokens) + " "):
        return findings
    # The longest prefix that an OBR (or nothing) completes is valid; the next one is not.
    good = 0
    for k in range(len(tokens), 0, -1):
        prefix = " ".join(tokens[:k]) + " "
        if _ORU_R01.fullmatch(prefix + "OBR ") or _ORU_R01.fullmatch(prefix):
            good = k
            break
    if good >= len(tokens):
        findings.append("the message ends before a required segment (an OBR at least)")
    else:
        position, name = known[good]
        after = f"after {tokens[good - 1]}" if good else "first"
        findings.append(f"segment {name} (segment {position}) is out of order: it cannot come "
                        f"{after} in ORU_R01")
    return findings


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
    findings = _segment_order(text)
    try:
        message = parse_message(text, validation_level=VALIDATION_LEVEL.TOLERANT,
                                find_groups=True)
    except Exception as exc:  # hl7apy raises many unrelated types for unreadable input
        return [*findings, f"hl7apy cannot parse the message: {type(exc).__name__}: {exc}"]
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
    findings += [line.removeprefix("Error: ") for line in lines if line.startswith("Error: ")]
    if warnings:
        findings += [line for line in lines if line.startswith("Warning: ")]
    return findings
