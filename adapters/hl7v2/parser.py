"""Fast ORU^R01 parser: raw HL7 v2 text -> :class:`resolvers.labs.model.OruMessage`.

Hot path of lab ingest (REST, GraphQL and MLLP), so it is a hand-written, split-based parser:
one ``str.split`` per segment on the field separator, components and escapes resolved only for
the fields the model needs. Versions 2.3 to 2.5.1 (any 2.x is read the same way: the fields
used here did not move). Structure handled, in order:
``MSH [SFT] PID [PD1] [{NTE}] [{NK1}] [PV1 [PV2]] { [ORC] [{NTE}] OBR [{NTE}] {OBX [{NTE}]} }``;
other segments (Z-segments, TQ1, SPM, CTI, FT1, DSC ...) are skipped. An OBX after an SPM is
kept with the order. A line that does not start with a segment ID (a sender's raw line break
inside a comment) continues the previous segment, joined with a newline.

Decision on hl7apy (measured, ``python -m benchmarks hl7_parse``, 2-CPU machine): a full
hl7apy ``parse_message`` takes ~8 ms for the digest's worked example and ~18 ms for a 10-OBX
panel (``find_groups=False`` saves almost nothing), and it still leaves the mapping to the
model to do; this parser produces the finished :class:`OruMessage` in ~35 us and ~80 us
(~230x faster, ~12,000 10-OBX messages/s on one core). At >= 500 msg/s end to end the whole
budget is 2 ms per message, so hl7apy alone would blow it ten times over: it is kept OFF the
hot path and backs only :func:`adapters.hl7v2.validation.validate_structure` (optional strict
check, ~11-26 ms: on-boarding a new lab, a diagnostics endpoint, conformance tests). ACKs are
built by hand in :mod:`adapters.hl7v2.ack` (~15 us vs ~1 ms with hl7apy, and hl7apy cannot
build one when the incoming header is unreadable, exactly when an AR is most needed).

Errors: anything but ORU^R01 -> :class:`UnsupportedMessage`; everything else that cannot be
read -> :class:`MalformedMessage` with an ERR-2 location (segment^occurrence^field^rep^comp,
the occurrence counted per segment ID) and a table 0357 code.
"""

from __future__ import annotations

from resolvers.labs.model import (
    Header,
    MalformedMessage,
    ObservationSegment,
    OrderSegment,
    OruMessage,
    PatientIdentifier,
    PatientSegment,
    UnsupportedMessage,
)

from .encoding import Delimiters, codec_for, decode_message, hl7_time_to_iso, timezone_of, unescape

__all__ = ["parse_oru", "peek_header", "read_header"]

_STRIP = " \t\r\n\x0b\x1c\ufeff"
# OBX-2 types whose value keeps its components (normalised to ^ and & separators).
_COMPOSITE = frozenset(("CE", "CWE", "CNE", "CF", "SN", "CX", "XCN", "XPN", "XAD", "XON",
                        "XTN", "ED", "RP", "CP", "MO", "CQ", "HD", "EI", "PN", "AD", "TN",
                        "CN", "CK", "CM"))
_TEXT = frozenset(("TX", "FT"))
_TIME = frozenset(("TS", "DTM"))


def _pad(fields: list[str], size: int) -> list[str]:
    if len(fields) < size:
        fields.extend([""] * (size - len(fields)))
    return fields


def _first_rep(value: str, d: Delimiters) -> str:
    return value.split(d.repetition, 1)[0] if d.repetition in value else value


def _comps(value: str, d: Delimiters, size: int) -> list[str]:
    return _pad(value.split(d.component), size)


def _c1(value: str, d: Delimiters, codec: str) -> str:
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


def _hd(value: str, d: Delimiters, codec: str) -> str:
    """An HD field (MSH-3..6) as one text: its namespace, else its universal ID."""
    parts = _comps(_first_rep(value, d), d, 2)
    return unescape(parts[0] or parts[1], d, codec)


def _composite(value: str, d: Delimiters, codec: str) -> str:
    """A composite value with components joined by ^ and subcomponents by &, unescaped."""
    if d.escape not in value and d.component == "^" and d.subcomponent == "&":
        return value
    return "^".join("&".join(unescape(s, d, codec) for s in c.split(d.subcomponent))
                    for c in value.split(d.component))


def _text(value: str, d: Delimiters, codec: str) -> str:
    """A text field (TX, FT, NTE-3): repetitions are lines, delimiters inside kept as sent."""
    if d.repetition in value:
        return "\n".join(unescape(r, d, codec) for r in value.split(d.repetition))
    return unescape(value, d, codec)


def _missing(field: str, what: str, location: str) -> MalformedMessage:
    return MalformedMessage(f"required field {field} ({what}) is missing", location=location,
                            hl7_error_code="101")


def _coded(value: str, d: Delimiters, codec: str) -> tuple[str, str, str]:
    """CE/CWE (first repetition): code, text, system; the alternate triple if .1-.3 are empty."""
    c = _comps(_first_rep(value, d), d, 6)
    if not c[0] and not c[1] and (c[3] or c[4]):
        c = c[3:]
    return unescape(c[0], d, codec), unescape(c[1], d, codec), unescape(c[2], d, codec)


def _split_segments(text: str) -> list[str]:
    text = text.strip(_STRIP)
    if not text:
        raise MalformedMessage("the message is empty", location="MSH^1", hl7_error_code="100")
    if "\n" in text:
        text = text.replace("\r\n", "\r").replace("\n", "\r")
    segments = text.split("\r")
    if not segments[0].startswith("MSH"):
        found = segments[0][:3]
        raise MalformedMessage(f"the message must start with an MSH segment, not {found!r}",
                               location="MSH^1", hl7_error_code="100")
    return segments


def read_header(msh: str, d: Delimiters, *, check: bool = True) -> Header:
    """MSH text -> Header, checking MSH-9 (ORU^R01 only), MSH-10 and MSH-12 unless ``check``
    is False (then ``message_type`` is whatever MSH-9.1^9.2 says)."""
    f = _pad(["MSH", d.field, *msh.split(d.field)[1:]], 19)
    charset = unescape(_first_rep(f[18], d), d).strip()
    codec = codec_for(charset) or "utf-8"
    msg_type = _comps(_first_rep(f[9], d), d, 3)
    type_text = "^".join(unescape(p, d, codec) for p in msg_type[:2] if p)
    control_id = _c1(f[10], d, codec)
    version = _c1(f[12], d, codec)
    if not check:
        pass
    elif not type_text:
        raise _missing("MSH-9", "message type", "MSH^1^9")
    elif msg_type[0].upper() != "ORU" or msg_type[1].upper() != "R01":
        raise UnsupportedMessage(type_text)
    elif not control_id:
        raise _missing("MSH-10", "message control ID", "MSH^1^10")
    elif not version:
        raise _missing("MSH-12", "version ID", "MSH^1^12")
    elif not version.startswith("2."):
        raise MalformedMessage(f"HL7 version {version!r} is not supported (2.3 to 2.5.1 are)",
                               location="MSH^1^12", hl7_error_code="203")
    return Header(
        sending_application=_hd(f[3], d, codec), sending_facility=_hd(f[4], d, codec),
        receiving_application=_hd(f[5], d, codec), receiving_facility=_hd(f[6], d, codec),
        timestamp=_c1(f[7], d, codec), message_type="ORU^R01" if check else type_text,
        control_id=control_id,
        processing_id=_c1(f[11], d, codec), version=version,
        accept_ack_type=_c1(f[15], d, codec).upper(),
        application_ack_type=_c1(f[16], d, codec).upper(), charset=charset)


def _identifiers(value: str, d: Delimiters, codec: str) -> tuple[PatientIdentifier, ...]:
    out: list[PatientIdentifier] = []
    for rep in value.split(d.repetition):
        c = _comps(rep, d, 5)
        ident = unescape(c[0], d, codec) if c[0] else ""
        if not ident.strip():
            continue
        hd = _pad(c[3].split(d.subcomponent), 3)
        out.append(PatientIdentifier(
            value=ident, assigning_authority=unescape(hd[0], d, codec),
            authority_universal_id=unescape(hd[1], d, codec),
            authority_id_type=unescape(hd[2], d, codec), id_type=unescape(c[4], d, codec)))
    return tuple(out)


def _patient(f: list[str], d: Delimiters, codec: str) -> PatientSegment:
    f = _pad(f, 14)
    identifiers = _identifiers(f[3], d, codec)
    if not identifiers:
        raise MalformedMessage(
            "required field PID-3 (patient identifier list) has no identifier value (PID-3.1)",
            location="PID^1^3^1^1", hl7_error_code="101")
    names = f[5].split(d.repetition)
    name = next((n for n in names if _comps(n, d, 7)[6] == "L"), names[0])
    xpn = _comps(name, d, 3)
    family = unescape(xpn[0].split(d.subcomponent, 1)[0], d, codec)
    given = tuple(unescape(g, d, codec) for g in xpn[1:3] if g)
    lines: tuple[str, ...] = ()
    city = district = country = ""
    if f[11]:
        xad = _comps(_first_rep(f[11], d), d, 9)
        lines = tuple(unescape(x.split(d.subcomponent, 1)[0], d, codec) for x in xad[:2] if x)
        city = unescape(xad[2], d, codec)
        district = unescape(xad[8] or xad[3], d, codec)
        country = unescape(xad[5], d, codec)
    phones: list[str] = []
    for rep in f[13].split(d.repetition) if f[13] else ():
        xtn = _comps(rep, d, 12)
        number = xtn[0] or (xtn[6] and ("+" + xtn[4] if xtn[4] else "") + xtn[5] + xtn[6]
                            ) or xtn[11]
        if number and xtn[1] != "NET":
            phones.append(unescape(number, d, codec))
    birth = _c1(f[7], d, codec)
    return PatientSegment(
        identifiers=identifiers, family=family, given=given, birth_date=birth,
        birth_date_iso=hl7_time_to_iso(birth, date_only=True), sex=_c1(f[8], d, codec),
        address_lines=lines, city=city, district=district, country=country,
        phones=tuple(phones))


class _Order:
    __slots__ = ("fields", "notes", "observations", "orc")

    def __init__(self, fields: list[str], orc: list[str] | None, notes: list[str]) -> None:
        self.fields = fields
        self.orc = orc
        self.notes = notes
        self.observations: list[ObservationSegment] = []


def _order(o: _Order, d: Delimiters, codec: str, zone: str) -> OrderSegment:
    f, orc = o.fields, _pad(o.orc or [], 13)
    code, text, system = _coded(f[4], d, codec)
    observed_at = _c1(f[7], d, codec)
    provider = f[16] or orc[12]
    return OrderSegment(
        set_id=_c1(f[1], d, codec),
        placer_number=_c1(f[2], d, codec) or _c1(orc[2], d, codec),
        filler_number=_c1(f[3], d, codec) or _c1(orc[3], d, codec),
        code=code, code_text=text, code_system=system, observed_at=observed_at,
        observed_at_iso=hl7_time_to_iso(observed_at, zone), status=_c1(f[25], d, codec),
        ordering_provider="^".join(unescape(c, d, codec) for c in
                                   _comps(_first_rep(provider, d), d, 3)[:3]).rstrip("^"),
        observations=tuple(o.observations),
        notes=tuple(o.notes))


def _observation(f: list[str], d: Delimiters, codec: str, zone: str, seq: int,
                 notes: tuple[str, ...]) -> ObservationSegment:
    f = _pad(f, 15)
    code, text, system = _coded(f[3], d, codec)
    if not code and not text:
        raise _missing("OBX-3", "observation identifier", f"OBX^{seq}^3^1^1")
    value_type = _c1(f[2], d, codec).upper()
    raw = f[5]
    values: tuple[str, ...] = ()
    if raw:
        if not value_type:
            raise _missing("OBX-2", "value type, required when OBX-5 is valued", f"OBX^{seq}^2")
        reps = raw.split(d.repetition)
        if value_type in _COMPOSITE:
            values = tuple(_composite(r, d, codec) for r in reps)
        elif value_type in _TEXT:
            values = tuple(unescape(r, d, codec) for r in reps)
        elif value_type in _TIME:
            values = tuple(unescape(r.split(d.component, 1)[0], d, codec) for r in reps)
        else:
            values = tuple(unescape(r, d, codec) for r in reps)
    status = _c1(f[11], d, codec)
    if not status:
        raise _missing("OBX-11", "observation result status", f"OBX^{seq}^11")
    units = _comps(_first_rep(f[6], d), d, 3)
    observed_at = _c1(f[14], d, codec)
    return ObservationSegment(
        set_id=_c1(f[1], d, codec), value_type=value_type, code=code, code_text=text,
        code_system=system, sub_id=_c1(f[4], d, codec), values=values,
        units=unescape(units[0], d, codec), units_system=unescape(units[2], d, codec),
        reference_range=unescape(_first_rep(f[7], d), d, codec),
        abnormal_flags=tuple(a for a in (_c1(r, d, codec) for r in f[8].split(d.repetition))
                             if a) if f[8] else (),
        status=status, observed_at=observed_at,
        observed_at_iso=hl7_time_to_iso(observed_at, zone), notes=notes)


def peek_header(raw: bytes | str) -> Header | None:
    """The MSH of any message, unchecked, or None when it cannot be read at all.

    For the ACK of a message :func:`parse_oru` refused: the sender's names, MSH-10 and the
    MSH-15/16 acknowledgement mode survive an error in the body or an unsupported MSH-9.
    """
    try:
        text = decode_message(bytes(raw)) if not isinstance(raw, str) else raw
        msh = _split_segments(text)[0]
        return read_header(msh, Delimiters.from_msh(msh), check=False)
    except MalformedMessage:
        return None


def parse_oru(raw: bytes | str) -> OruMessage:
    """Parse one ORU^R01 (CR, LF or CRLF segment ends; bytes decoded per MSH-18)."""
    text = decode_message(bytes(raw)) if not isinstance(raw, str) else raw
    segments = _split_segments(text)
    d = Delimiters.from_msh(segments[0])
    header = read_header(segments[0], d)
    codec = codec_for(header.charset) or "utf-8"
    zone = timezone_of(header.timestamp)
    fs = d.field
    patient: PatientSegment | None = None
    patient_class = ""
    patient_notes: list[str] = []
    orders: list[_Order] = []
    orc: list[str] | None = None
    orc_notes: list[str] = []
    notes: list[str] | None = None  # where the next NTE goes
    counts: dict[str, int] = {}
    # A line without a segment ID continues the previous one (raw line break in a comment).
    merged: list[str] = []
    for seg in segments[1:]:
        if len(seg) >= 3 and (len(seg) == 3 or seg[3] == fs) and seg[:3].isalnum():
            merged.append(seg)
        elif seg.strip() and merged:
            merged[-1] += "\n" + seg
    i, total = 0, len(merged)
    while i < total:
        seg = merged[i]
        i += 1
        name = seg[:3]
        if name == "OBX":
            seq = counts["OBX"] = counts.get("OBX", 0) + 1
            if not orders:
                raise MalformedMessage("OBX before any OBR: results must follow their order",
                                       location=f"OBX^{seq}", hl7_error_code="100")
            obx_notes: list[str] = []
            while i < total and merged[i].startswith("NTE"):  # the NTEs of this OBX
                f = _pad(merged[i].split(fs), 4)
                if f[3]:
                    obx_notes.append(_text(f[3], d, codec))
                i += 1
            orders[-1].observations.append(
                _observation(seg.split(fs), d, codec, zone, seq, tuple(obx_notes)))
            notes = None
        elif name == "NTE":
            f = _pad(seg.split(fs), 4)
            if notes is not None and f[3]:
                notes.append(_text(f[3], d, codec))
        elif name == "OBR":
            seq = counts["OBR"] = counts.get("OBR", 0) + 1
            if patient is None:
                break
            f = _pad(seg.split(fs), 26)
            if not any(_coded(f[4], d, codec)[:2]):
                raise _missing("OBR-4", "universal service identifier", f"OBR^{seq}^4^1^1")
            orders.append(_Order(f, orc, orc_notes))
            orc, orc_notes = None, []
            notes = orders[-1].notes
        elif name == "ORC":
            orc = seg.split(fs)
            orc_notes = []
            notes = orc_notes
        elif name == "PID":
            seq = counts["PID"] = counts.get("PID", 0) + 1
            if seq > 1:
                raise MalformedMessage("only one patient (PID) per ORU^R01 is supported; send "
                                       "one message per patient", location="PID^2",
                                       hl7_error_code="100")
            patient = _patient(seg.split(fs), d, codec)
            notes = patient_notes
        elif name == "PV1":
            patient_class = _c1(_pad(seg.split(fs), 3)[2], d, codec)
    if patient is None:
        raise MalformedMessage("required segment PID (patient identification) is missing "
                               "or comes after the first OBR", location="PID^1",
                               hl7_error_code="100")
    if not orders:
        raise MalformedMessage("the message has no OBR segment (observation request)",
                               location="OBR^1", hl7_error_code="100")
    return OruMessage(header=header, patient=patient,
                      orders=tuple(_order(o, d, codec, zone) for o in orders),
                      patient_class=patient_class, patient_notes=tuple(patient_notes))
