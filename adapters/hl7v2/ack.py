"""HL7 v2.5 acknowledgements (ACK) for ORU^R01, original and enhanced mode.

Built by hand, not with hl7apy: an ACK is three short segments, hl7apy needs ~1 ms to build
and serialise one (~10 us here) and cannot build one at all when the incoming header is
unreadable -- exactly when an ``AR`` is most needed.

* :func:`build_ack` -- one ACK: MSH with sender and receiver swapped, MSH-9
  ``ACK^<trigger>^ACK``, a fresh MSH-10, MSA-1 code and MSA-2 = the original MSH-10, and an
  ERR (ERR-2 location, ERR-3 ``code^text^HL70357``, ERR-4 severity, ERR-8 the readable
  reason) when an error is given, then one ERR with severity ``W`` per parse warning (what
  the gateway assumed for a field the sender left out or bent), on any ACK code.
* :func:`ack_mode` / :func:`acks_to_send` -- which ACK codes to send (MSH-15/MSH-16,
  table 0155 AL/NE/ER/SU). In enhanced mode an empty MSH-15 or MSH-16 counts as ``AL``.
* :func:`respond` -- both together: the ACK texts for an outcome.

Outcomes are (accepted, app_ok, rejected): a message that was stored is *accepted*; one that
was also processed without an application error is *app_ok*; a message refused for a reason
the sender may retry or cannot fix in content (unsupported type/version, transient fault) is
*rejected* (AR/CR) rather than in error (AE/CE), as in standards digest 4.2.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Literal

from resolvers.labs.oru import Header, MalformedMessage, ParseWarning, UnsupportedMessage

from .encoding import DEFAULT, Delimiters, codec_for, decode_message, escape, unescape

__all__ = ["ERROR_TEXTS", "ack_mode", "acks_to_send", "build_ack", "encode_ack", "respond"]

# Table 0357 (message error condition codes).
ERROR_TEXTS = {
    "0": "Message accepted", "100": "Segment sequence error", "101": "Required field missing",
    "102": "Data type error", "103": "Table value not found",
    "200": "Unsupported message type", "201": "Unsupported event code",
    "202": "Unsupported processing id", "203": "Unsupported version id",
    "204": "Unknown key identifier", "205": "Duplicate key identifier",
    "206": "Application record locked", "207": "Application internal error",
}
CODES = frozenset(("AA", "AE", "AR", "CA", "CE", "CR"))
Mode = Literal["original", "enhanced"]


def _now_hl7(now: datetime.datetime | None) -> str:
    moment = now or datetime.datetime.now().astimezone()
    text = moment.strftime("%Y%m%d%H%M%S")
    offset = moment.strftime("%z")
    return text + offset


def new_control_id() -> str:
    """A fresh MSH-10 (20 characters, the v2.5 maximum)."""
    return "GW" + uuid.uuid4().hex[:18].upper()


def _loose_msh(raw: bytes | str | None) -> dict[str, str] | None:
    """Whatever MSH fields can be read, without the parser's checks (for ACKs to bad input)."""
    if raw is None:
        return None
    try:
        text = decode_message(bytes(raw)) if not isinstance(raw, str) else raw
    except MalformedMessage:
        text = bytes(raw).decode("latin-1") if not isinstance(raw, str) else raw
    start = text.find("MSH")
    if start < 0 or len(text) < start + 4:
        return None
    line = text[start:].replace("\r\n", "\r").replace("\n", "\r").split("\r", 1)[0]
    if len(line) < 4:
        return None
    fs = line[3]
    if fs.isalnum() or fs.isspace():
        return None
    fields = ["MSH", fs, *line.split(fs)[1:]]
    enc = fields[2] if len(fields) > 2 else ""
    d = DEFAULT
    if len(enc) >= 4 and len(set(enc[:4] + fs)) == 5:
        d = Delimiters(fs, enc[0], enc[1], enc[2], enc[3])
    fields.extend([""] * (19 - len(fields)))

    def first(value: str, component: int = 0) -> str:
        parts = value.split(d.repetition, 1)[0].split(d.component)
        return unescape(parts[component], d) if component < len(parts) else ""

    def hd(value: str) -> str:
        return first(value) or first(value, 1)

    return {"sending_application": hd(fields[3]), "sending_facility": hd(fields[4]),
            "receiving_application": hd(fields[5]), "receiving_facility": hd(fields[6]),
            "trigger": first(fields[9], 1), "control_id": first(fields[10]),
            "processing_id": first(fields[11]), "charset": first(fields[18])}


def build_ack(header: Header | None, raw: bytes | str | None, code: str, *,
              error: MalformedMessage | UnsupportedMessage | str | None = None,
              now: datetime.datetime | None = None, control_id: str | None = None,
              warnings: Sequence[ParseWarning] = ()) -> str:
    """One v2.5 ACK as text (segments ended by CR). ``header`` is the parsed MSH when there
    is one; otherwise what can be read from ``raw`` is echoed, and with neither a minimal ACK
    (empty MSA-2) is still produced. Each of ``warnings`` adds an ERR with severity W after
    the error's ERR, so the sender learns what was assumed even when the message was taken."""
    if code not in CODES:
        raise ValueError(f"not an acknowledgement code (table 0008): {code!r}")
    if header is not None:
        original = {"sending_application": header.sending_application,
                    "sending_facility": header.sending_facility,
                    "receiving_application": header.receiving_application,
                    "receiving_facility": header.receiving_facility,
                    "trigger": header.message_type.partition("^")[2].partition("^")[0],
                    "control_id": header.control_id, "processing_id": header.processing_id,
                    "charset": header.charset}
    else:
        original = _loose_msh(raw) or {}

    def get(key: str) -> str:
        return escape(original.get(key, ""))

    trigger = get("trigger")
    msh = ["MSH", "^~\\&", get("receiving_application"), get("receiving_facility"),
           get("sending_application"), get("sending_facility"), _now_hl7(now), "",
           f"ACK^{trigger}^ACK" if trigger else "ACK", escape(control_id or new_control_id()),
           get("processing_id") or "P", "2.5"]
    if original.get("charset"):
        msh += ["", "", "", "", "", get("charset")]
    segments = ["|".join(msh), f"MSA|{code}|{get('control_id')}"]
    if error is not None:
        segments.append(_err(error, code))
    segments.extend(_warning_err(w) for w in warnings)
    return "\r".join(segments) + "\r"


def _err(error: MalformedMessage | UnsupportedMessage | str, code: str) -> str:
    if isinstance(error, MalformedMessage):
        location, condition, text = error.location, error.hl7_error_code, str(error)
    elif isinstance(error, UnsupportedMessage):
        location, condition, text = "MSH^1^9", "200", str(error)
    else:
        location, condition, text = "", "207", error
    severity = "W" if code in ("AA", "CA") else "E"
    fields = ["ERR", "", location, f"{condition}^{ERROR_TEXTS.get(condition, '')}^HL70357",
              severity]
    if text and text != ERROR_TEXTS.get(condition):
        fields += ["", "", "", escape(text)]
    return "|".join(fields)


def _warning_err(warning: ParseWarning) -> str:
    condition = warning.hl7_error_code or "0"
    return "|".join(["ERR", "", warning.location,
                     f"{condition}^{ERROR_TEXTS.get(condition, '')}^HL70357", "W", "", "", "",
                     escape(warning.message)])


def encode_ack(ack: str, header: Header | None = None) -> bytes:
    """The ACK as bytes in the sender's MSH-18 charset (UTF-8 by default)."""
    codec = codec_for(header.charset) if header is not None and header.charset else None
    return ack.encode(codec or "utf-8", "replace")


def ack_mode(header: Header | None) -> Mode:
    """``original`` when MSH-15 and MSH-16 are both empty (or no header), else ``enhanced``."""
    if header is None or not (header.accept_ack_type or header.application_ack_type):
        return "original"
    return "enhanced"


def _wanted(condition: str, success: bool) -> bool:
    condition = condition.upper() or "AL"
    if condition == "NE":
        return False
    if condition == "ER":
        return not success
    if condition == "SU":
        return success
    return True  # AL, and anything unknown: better one ACK too many than a sender waiting


def acks_to_send(header: Header | None, accepted: bool, app_ok: bool, *,
                 rejected: bool = False) -> list[str]:
    """The ACK codes to send, in order.

    Original mode: exactly one of AA (accepted and processed), AE (error; ``accepted`` False
    without ``rejected``, or ``app_ok`` False) or AR (``rejected``). Enhanced mode: the commit
    ACK CA/CE/CR if MSH-15 asks for it, then -- only when the commit succeeded -- the
    application ACK AA/AE if MSH-16 asks for it.
    """
    if ack_mode(header) == "original":
        if rejected:
            return ["AR"]
        return ["AA"] if accepted and app_ok else ["AE"]
    assert header is not None
    codes: list[str] = []
    commit = "CR" if rejected else ("CA" if accepted else "CE")
    if _wanted(header.accept_ack_type, commit == "CA"):
        codes.append(commit)
    if commit == "CA" and _wanted(header.application_ack_type, app_ok):
        codes.append("AA" if app_ok else "AE")
    return codes


def respond(header: Header | None, raw: bytes | str | None, *, accepted: bool, app_ok: bool,
            rejected: bool = False,
            error: MalformedMessage | UnsupportedMessage | str | None = None,
            now: datetime.datetime | None = None,
            warnings: Sequence[ParseWarning] = ()) -> list[str]:
    """The ACK texts for an outcome (see :func:`acks_to_send`); the error goes into the ERR of
    every non-success ACK, and the parse ``warnings`` (``OruMessage.warnings``) into W ERRs of
    every ACK, commit and application alike, since a sender may log only one of them. Without
    a ``header`` (the parser refused the message) the MSH is read leniently from ``raw``, so
    MSH-15/16 still choose original or enhanced mode."""
    if header is None and raw is not None:
        from .parser import peek_header

        header = peek_header(raw)
    return [build_ack(header, raw, code, now=now, warnings=warnings,
                      error=None if code in ("AA", "CA") else error)
            for code in acks_to_send(header, accepted, app_ok, rejected=rejected)]


def stored_ack(raw: str) -> str:
    """The ACKs an MLLP sender got for a message that was stored, rebuilt for the console's
    message log by the same rules (its MSH-15/16 mode: AA, or CA and/or AA). Their MSH-7 and
    MSH-10 are new and parse warnings (W ERRs) are not repeated: the ACK itself is not kept."""
    acks = [ack.replace("\r", "\n").strip() for ack in
            respond(None, raw, accepted=True, app_ok=True)]
    return "\n\n".join(acks) or "(no ACK: MSH-15/16 asked for none)"
