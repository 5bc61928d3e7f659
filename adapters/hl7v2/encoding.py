"""HL7 v2 encoding rules: segment terminators, delimiters (MSH-1/MSH-2), charsets (MSH-18),
escapes, timestamps.

Everything here is on the hot path of :func:`adapters.hl7v2.parser.parse_oru`, so the common
case (no escape character in a value, plain ``^~\\&`` delimiters) costs one ``in`` test.
"""

from __future__ import annotations

import codecs
import datetime
import functools
from dataclasses import dataclass

from resolvers.labs.oru import MalformedMessage

__all__ = [
    "DEFAULT",
    "Delimiters",
    "codec_for",
    "decode_message",
    "escape",
    "hl7_time_to_iso",
    "join_continuations",
    "split_segments",
    "timezone_of",
    "unescape",
]

# MSH-18 (table 0211) and the spellings senders really use -> Python codec names.
_CHARSETS = {
    "": "utf-8",
    "ASCII": "ascii",
    "US-ASCII": "ascii",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
    "UNICODE": "utf-8",
    "8859/1": "latin-1",
    "ISO-8859-1": "latin-1",
    "ISO8859-1": "latin-1",
    "ISO_8859-1": "latin-1",
    "ISO IR100": "latin-1",
    "LATIN-1": "latin-1",
    "LATIN1": "latin-1",
    "8859/2": "iso8859-2",
    "8859/5": "iso8859-5",
    "8859/7": "iso8859-7",
    "8859/9": "iso8859-9",
    "8859/15": "iso8859-15",
    "WINDOWS-1252": "cp1252",
    "CP1252": "cp1252",
    "UNICODE UTF-16": "utf-16",
}


# Stripped from both ends of a message: MLLP framing left in an HTTP body (0x0B ... 0x1C CR),
# a byte-order mark, blank lines and surrounding whitespace.
_STRIP = " \t\r\n\x0b\x1c\ufeff"
_UTF8_BOM = b"\xef\xbb\xbf"


def split_segments(text: str) -> list[str]:
    """A message's lines, whatever ends them (CR, LF or CRLF) and whatever surrounds the
    message. The first one must be the MSH; pass the others to :func:`join_continuations`."""
    text = text.strip(_STRIP)
    if not text:
        raise MalformedMessage("the message is empty", location="MSH^1", hl7_error_code="100")
    if "\n" in text:
        text = text.replace("\r\n", "\r").replace("\n", "\r")
    segments = text.split("\r")
    segments[0] = segments[0].rstrip(" \t")  # the others: in join_continuations
    if not segments[0].startswith("MSH"):
        found = segments[0][:3]
        raise MalformedMessage(f"the message must start with an MSH segment, not {found!r}",
                               location="MSH^1", hl7_error_code="100")
    return segments


def join_continuations(lines: list[str], fs: str) -> list[str]:
    """Segments from lines: a line without a segment ID continues the previous segment,
    joined with a newline (a sender's raw line break inside a comment); blank lines go; a
    segment indented by blanks (pasted from an indented document) is still a segment, and
    blanks at line ends are dropped."""
    segments: list[str] = []
    for line in lines:
        if line[-1:] <= " ":  # blanks left by an editor: a final OBX-11 "F " is "F"
            line = line.rstrip(" \t")
        if len(line) >= 3 and (len(line) == 3 or line[3] == fs) and line[:3].isalnum():
            segments.append(line)
        elif _is_indented_segment(line, fs):
            segments.append(line.lstrip(" \t"))
        elif line.strip() and segments:
            segments[-1] += "\n" + line
    return segments


def _is_indented_segment(line: str, fs: str) -> bool:
    # Upper-case IDs only, so an indented line of a comment stays a continuation.
    seg = line.lstrip(" \t")
    return (seg != line and len(seg) >= 3 and (len(seg) == 3 or seg[3] == fs)
            and seg[:3].isalnum() and seg[:3].isupper())


@dataclass(frozen=True, slots=True)
class Delimiters:
    """MSH-1 and MSH-2: field, component, repetition, escape and subcomponent characters."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @property
    def encoding_characters(self) -> str:
        return self.component + self.repetition + self.escape + self.subcomponent

    @classmethod
    def from_msh(cls, segment: str) -> Delimiters:
        """Read MSH-1 and MSH-2 from the text of an MSH segment (which must start with MSH)."""
        if len(segment) < 4:
            raise MalformedMessage("MSH has no field separator (MSH-1)", location="MSH^1^1",
                                   hl7_error_code="101")
        fs = segment[3]
        if fs.isalnum() or fs.isspace():
            raise MalformedMessage(f"MSH-1 field separator {fs!r} is not a delimiter character",
                                   location="MSH^1^1", hl7_error_code="102")
        end = segment.find(fs, 4)
        enc = segment[4:] if end < 0 else segment[4:end]
        if len(enc) < 4:
            raise MalformedMessage(
                f"MSH-2 encoding characters {enc!r} are too short: four are required "
                "(component, repetition, escape, subcomponent), e.g. ^~\\&",
                location="MSH^1^2", hl7_error_code="101" if not enc else "102")
        # A fifth character (v2.7 truncation, usually '#') is tolerated; more is garbage.
        chars = enc
        if len(chars) > 5 or len(set(chars + fs)) != len(chars) + 1 or any(
                c.isalnum() or c.isspace() for c in chars):
            raise MalformedMessage(
                f"MSH-2 encoding characters {enc!r} are invalid: they must be four distinct "
                "non-alphanumeric characters, different from the field separator",
                location="MSH^1^2", hl7_error_code="102")
        if (fs, enc[:4]) == ("|", "^~\\&"):
            return DEFAULT
        return cls(fs, enc[0], enc[1], enc[2], enc[3])


DEFAULT = Delimiters()


def codec_for(charset: str) -> str | None:
    """The Python codec for an MSH-18 value (first repetition), or None if unknown."""
    name = charset.strip().upper()
    known = _CHARSETS.get(name)
    if known is not None:
        return known
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _msh18_of(raw: bytes) -> str:
    """MSH-18 read from the undecoded bytes (the MSH is ASCII in every charset we accept)."""
    start = raw.find(b"MSH")
    if start < 0 or len(raw) < start + 4:
        return ""
    fs = raw[start + 3:start + 4]
    end = len(raw)
    for terminator in (b"\r", b"\n"):
        pos = raw.find(terminator, start)
        if 0 <= pos < end:
            end = pos
    fields = raw[start:end].split(fs)
    if len(fields) < 18:
        return ""
    value = fields[17]
    enc = fields[1]
    if len(enc) >= 2:  # first repetition, first component
        value = value.split(enc[1:2])[0].split(enc[0:1])[0]
    return value.decode("ascii", "replace").strip()


def decode_message(raw: bytes) -> str:
    """Bytes to text per MSH-18; UTF-8 by default, falling back to ISO-8859-1.

    ASCII is read as UTF-8 (a superset), so a sender that declares ASCII and sends an accented
    name anyway is still understood; the same latin-1 fallback applies as with no MSH-18.
    """
    bom = raw.find(_UTF8_BOM, 0, 8)  # after MLLP framing or blanks, if any
    if bom >= 0:  # dropped here, or the latin-1 fallback would keep it as three characters
        raw = raw[:bom] + raw[bom + 3:]
    charset = _msh18_of(raw)
    codec = codec_for(charset) if charset else "utf-8"
    if codec in (None, "ascii", "utf-8"):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        raise MalformedMessage(f"the message is not valid {charset} (MSH-18)",
                               location="MSH^1^18", hl7_error_code="102") from None


_FORMATTING = {".br": "\n", ".sp": "\n", "H": "", "N": ""}


def unescape(value: str, d: Delimiters = DEFAULT, codec: str = "utf-8") -> str:
    """Resolve HL7 escape sequences in one primitive value (already split on delimiters).

    ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\`` become the delimiters, ``\\.br\\`` and ``\\.sp\\`` a newline,
    ``\\Xhh..\\`` the bytes decoded in the message charset; ``\\H\\``/``\\N\\`` (highlighting)
    and other formatting commands (``\\.in\\`` ...) are dropped; anything unknown, or an escape
    character without a closing one, is kept as sent.
    """
    esc = d.escape
    if esc not in value:
        return value
    out: list[str] = []
    pos = 0
    n = len(value)
    while pos < n:
        start = value.find(esc, pos)
        if start < 0:
            out.append(value[pos:])
            break
        end = value.find(esc, start + 1)
        if end < 0:
            out.append(value[pos:])
            break
        out.append(value[pos:start])
        seq = value[start + 1:end]
        if seq == "F":
            out.append(d.field)
        elif seq == "S":
            out.append(d.component)
        elif seq == "T":
            out.append(d.subcomponent)
        elif seq == "R":
            out.append(d.repetition)
        elif seq == "E":
            out.append(esc)
        elif seq in _FORMATTING:
            out.append(_FORMATTING[seq])
        elif seq[:1] == "X" and len(seq) > 1 and len(seq) % 2 == 1:
            try:
                data = bytes.fromhex(seq[1:])
            except ValueError:
                out.append(value[start:end + 1])
            else:
                try:
                    out.append(data.decode(codec))
                except (UnicodeDecodeError, LookupError):
                    out.append(data.decode("latin-1"))
        elif seq[:1] == "." or seq[:1] in ("C", "M"):
            pass  # formatting (.in, .ti, .sk, .ce, .fi, .nf) or charset switch: drop
        else:
            out.append(value[start:end + 1])
        pos = end + 1
    return "".join(out)


def escape(value: str, d: Delimiters = DEFAULT) -> str:
    """Escape a text for an HL7 field: the escape character first, then the delimiters;
    line breaks become ``\\.br\\``."""
    esc = d.escape
    if esc in value:
        value = value.replace(esc, f"{esc}E{esc}")
    for char, code in ((d.field, "F"), (d.component, "S"), (d.subcomponent, "T"),
                       (d.repetition, "R")):
        if char in value:
            value = value.replace(char, f"{esc}{code}{esc}")
    if "\r" in value or "\n" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", f"{esc}.br{esc}")
    return value


def timezone_of(ts: str) -> str:
    """The ``+ZZZZ``/``-ZZZZ`` offset of an HL7 time as ``+HH:MM``, or "" if none."""
    for sign in ("+", "-"):
        pos = ts.find(sign)
        if pos > 0:
            zone = ts[pos + 1:]
            if len(zone) == 4 and zone.isdigit() and int(zone[:2]) <= 14 and int(zone[2:]) < 60:
                return f"{sign}{zone[:2]}:{zone[2:]}"
            return ""
    return ""


@functools.lru_cache(maxsize=4096)
def hl7_time_to_iso(ts: str, default_zone: str = "", *, date_only: bool = False) -> str | None:
    """``YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]`` as ISO 8601, or None if it does not parse.

    A time of day without its own offset takes ``default_zone`` (the MSH-7 offset, the
    sender's zone in HL7 terms); with neither, the ISO text has no offset (local time).
    ``date_only`` keeps just the date (PID-7 -> ``birthDate``).
    """
    ts = ts.strip()
    if not ts:
        return None
    zone = ""
    for sign in ("+", "-"):
        pos = ts.find(sign)
        if pos > 0:
            zone = timezone_of(ts)
            if not zone:
                return None
            ts = ts[:pos]
            break
    digits, _, fraction = ts.partition(".")
    if not digits.isdigit() or len(digits) not in (4, 6, 8, 10, 12, 14) or (
            fraction and (not fraction.isdigit() or len(digits) != 14)):
        return None
    year = int(digits[:4])
    month = int(digits[4:6]) if len(digits) >= 6 else 1
    day = int(digits[6:8]) if len(digits) >= 8 else 1
    try:
        datetime.date(year, month, day)
    except ValueError:
        return None
    if len(digits) == 4:
        return digits
    if len(digits) == 6:
        return f"{digits[:4]}-{digits[4:6]}"
    date = f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    if len(digits) == 8 or date_only:
        return date
    hour = digits[8:10]
    minute = digits[10:12] or "00"
    second = digits[12:14] or "00"
    if int(hour) > 23 or int(minute) > 59 or int(second) > 60:
        return None
    frac = f".{fraction}" if fraction else ""
    return f"{date}T{hour}:{minute}:{second}{frac}{zone or default_zone}"
