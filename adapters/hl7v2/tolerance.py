"""Liberal ingest, strict storage: the values :func:`adapters.hl7v2.parser.parse_oru` assumes
when a sender leaves out or bends a field, each worded as a :class:`ParseWarning`.

Real laboratory systems omit "required" fields and integration engines accept them anyway; a
gateway that refuses them only pushes the lab to a worse path (fax, re-keying). So a field is
refused only when nothing usable can stand in for it, and every stand-in is said out loud: the
warning goes back to the sender (an ERR with severity W in the ACK) and, for a result, into
``ObservationSegment.assumptions``, which the FHIR mapping stores as a note on the Observation.

Everything here runs only once a field was found missing or odd, so a well-formed message pays
nothing but the emptiness tests in the parser.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from resolvers.labs.oru import MalformedMessage, ParseWarning

__all__ = [
    "ASSUMED_VERSION",
    "KNOWN_VERSIONS",
    "assumed_result_status",
    "control_id_from_text",
    "effective_time_warning",
    "inferred_value_type",
    "is_bent_oru_r01",
    "version_warning",
]

# MSH-12 values read without a word: the fields this parser uses did not move from 2.2 to 2.8.
KNOWN_VERSIONS = frozenset(("2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7",
                            "2.7.1", "2.8", "2.8.1", "2.8.2"))
ASSUMED_VERSION = "2.5"
_VERSION = re.compile(r"2\.(\d+)(?:\.\d+)*")

# OBR-25 (table 0123, the order's result status) -> OBX-11 (table 0085) for a result that has
# none: a final or corrected order holds final or corrected results; a preliminary, partial
# ("A": some results available) or "R" (results stored, not verified) order holds results
# nobody has signed off, so preliminary; a cancelled order ("X") holds results that cannot be
# obtained. Anything else (O I S Y Z: nothing resulted yet, or no record) says nothing about
# a result that is, after all, present: final, the HL7 default reading of a sent result.
_OBR_TO_OBX_STATUS = {"F": "F", "C": "C", "P": "P", "R": "P", "A": "P", "X": "X"}
_STATUS_NAMES = {"F": "final", "C": "corrected", "P": "preliminary",
                 "X": "results cannot be obtained"}
# The same shape that the FHIR mapping turns into a valueQuantity (resolvers/labs/to_fhir.py).
_NUMBER = re.compile(r"^\s*[-+]?\d+(?:\.\d+)?\s*$")
# MSH-9 written as one text: ORU_R01 (the message structure ID), ORU-R01, ORU R01, ORU&R01
# (a subcomponent separator), ORU~R01 (a repetition separator). Only the exact ORU + R01 pair
# is recognised, so no other message type can be mistaken for it.
_BENT_ORU_R01 = re.compile(r"ORU[ _\-&~/.:]?R01")


def assumed_result_status(obr_status: str, seq: int) -> tuple[str, ParseWarning]:
    """The OBX-11 a result without one gets, from its order's OBR-25, and the warning."""
    obr = obr_status.strip().upper()
    status = _OBR_TO_OBX_STATUS.get(obr, "F")
    if obr and obr in _OBR_TO_OBX_STATUS:
        source = (f"status taken from OBR-25 ({obr})" if status == obr else
                  f"status {status} ({_STATUS_NAMES[status]}) taken from OBR-25 ({obr})")
        message = f"OBX-11 (result status) was missing; {source}"
    elif obr:
        message = (f"OBX-11 (result status) was missing and OBR-25 ({obr}) is not a result "
                   "status; assumed F (final)")
    else:
        message = "OBX-11 (result status) was missing and OBR-25 is empty; assumed F (final)"
    return status, ParseWarning(f"OBX^{seq}^11", message, "101")


def inferred_value_type(first_value: str, seq: int) -> tuple[str, ParseWarning]:
    """OBX-2 for a valued OBX-5 without one: NM for a plain number, else ST (kept as text)."""
    if _NUMBER.match(first_value):
        value_type, reason = "NM", "NM (numeric) inferred from the value"
    else:
        value_type, reason = "ST", "ST (string) assumed, the value is kept as text"
    return value_type, ParseWarning(f"OBX^{seq}^2", f"OBX-2 (value type) was missing; {reason}",
                                    "101")


def effective_time_warning(obx_time: str, obr_time: str, obr_time_usable: bool,
                           seq: int) -> ParseWarning | None:
    """Why a result has no usable OBX-14, and what its effective time becomes, or None when
    OBX-14 is simply empty and OBR-7 gives the time (the usual case: many labs send only
    OBR-7, the collection time, which the v2-to-FHIR mapping uses for every result)."""
    location = f"OBX^{seq}^14"
    if not obx_time:
        if obr_time_usable:
            return None
        if not obr_time:
            return ParseWarning(location, "OBX-14 and OBR-7 (observation time) were missing; "
                                          "effective time unknown", "101")
        return ParseWarning(location, f"OBX-14 (observation time) was missing and OBR-7 "
                                      f"{obr_time!r} is not an HL7 date/time; effective time "
                                      "unknown", "102")
    fallback = "taken from OBR-7" if obr_time_usable else "unknown"
    return ParseWarning(location, f"OBX-14 (observation time) {obx_time!r} is not an HL7 "
                                  f"date/time; effective time {fallback}", "102")


def control_id_from_text(segments: Sequence[str]) -> str:
    """A stand-in MSH-10, the dedupe key: a hash of the message's segments, so a resend of the
    same message (even re-framed, or with other line endings) finds the first copy. 128 bits:
    a collision would drop a different message as a duplicate, so it must not happen."""
    digest = hashlib.sha256("\r".join(segments).encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest[:32]}"


def is_bent_oru_r01(message_type_field: str) -> bool:
    """MSH-9 is ORU^R01 written with the wrong separator (or none), e.g. ``ORU_R01``."""
    return _BENT_ORU_R01.fullmatch(message_type_field.strip().upper()) is not None


def version_warning(version: str) -> tuple[str, ParseWarning | None]:
    """MSH-12 (already known not to be in :data:`KNOWN_VERSIONS`) -> the version to record and
    a warning; raises :class:`MalformedMessage` for anything that is not HL7 v2."""
    text = version.strip()
    if not text:
        return ASSUMED_VERSION, ParseWarning(
            "MSH^1^12", f"MSH-12 (version ID) was missing; assumed {ASSUMED_VERSION}", "101")
    if text in KNOWN_VERSIONS:  # only surrounding whitespace was wrong
        return text, None
    if _VERSION.fullmatch(text) is None:
        raise MalformedMessage(f"HL7 version {version!r} is not supported (2.2 to 2.8 are)",
                               location="MSH^1^12", hl7_error_code="203")
    # Another 2.x (2.1, 2.9): the segments and fields read here are the same in every 2.x.
    return text, ParseWarning(
        "MSH^1^12", f"MSH-12 (version ID) {text} is outside 2.2 to 2.8; read with the same "
                    "field layout, which the fields used here share", "203")


def bent_type_warning(message_type_field: str) -> ParseWarning:
    return ParseWarning("MSH^1^9", f"MSH-9 (message type) {message_type_field!r} does not "
                                   "separate its components with '^'; read as ORU^R01", "102")


def control_id_warning(control_id: str) -> ParseWarning:
    return ParseWarning("MSH^1^10", f"MSH-10 (message control ID) was missing; {control_id} "
                                    "(a hash of the message text) is used to recognise a "
                                    "resend", "101")


def missing_service_warning(seq: int) -> ParseWarning:
    return ParseWarning(f"OBR^{seq}^4", "OBR-4 (universal service identifier) was missing; "
                                        "the report is stored with the code 'unknown'", "101")


def bad_order_time_warning(obr_time: str, seq: int) -> ParseWarning:
    return ParseWarning(f"OBR^{seq}^7", f"OBR-7 (observation time) {obr_time!r} is not an HL7 "
                                        "date/time; the report's effective time is unknown",
                        "102")


def units_from_text_warning(units_text: str, seq: int) -> ParseWarning:
    return ParseWarning(f"OBX^{seq}^6", f"OBX-6.1 (unit identifier) was empty; unit taken from "
                                        f"OBX-6.2 (unit text) {units_text!r}", "0")


def missing_units_warning(seq: int) -> ParseWarning:
    return ParseWarning(f"OBX^{seq}^6", "OBX-6 (units) was missing for a numeric (NM) result; "
                                        "the value is stored without a unit", "0")
