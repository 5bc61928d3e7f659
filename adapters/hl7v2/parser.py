"""Fast ORU^R01 parser: raw HL7 v2 text -> :class:`resolvers.labs.oru.OruMessage`.

Hot path of lab ingest (REST, GraphQL and MLLP), so it is a hand-written, split-based parser:
one ``str.split`` per segment on the field separator, components and escapes resolved only for
the fields the model needs. Versions 2.2 to 2.8 (the fields used here did not move). Structure
handled, in order: ``MSH [SFT] PID [PD1] [{NTE}] [{NK1}] [PV1 [PV2]] { [ORC] [{NTE}] OBR
[{NTE}] {OBX [{NTE}]} }``; other segments (Z-segments, TQ1, SPM, CTI, FT1, DSC ...) are
skipped. An OBX after an SPM is kept with the order. A line that does not start with a segment
ID (a sender's raw line break inside a comment) continues the previous segment.

Liberal ingest, strict storage: what real senders leave out or bend (OBX-11, OBX-2, OBX-6,
OBX-14/OBR-7, OBR-4, MSH-10, MSH-12, ``ORU_R01`` in MSH-9, framing and whitespace) is accepted
with an assumption, each one recorded in ``OruMessage.warnings`` and, for a result, in
``ObservationSegment.assumptions`` (see :mod:`adapters.hl7v2.tolerance`). Only what cannot be
used is refused: no MSH, another message type, no PID or no PID-3 identifier, no OBR or OBX,
an OBX without OBX-3, a version that is not 2.x.

hl7apy (``python -m benchmarks hl7_parse``): ~8 ms for the worked example, ~18 ms for a 10-OBX
panel, before any mapping, against ~35 us and ~80 us here for the finished model; with 2 ms per
message at 500 msg/s it stays off the hot path (it backs only ``validate_structure``).

Errors: anything but ORU^R01 -> :class:`UnsupportedMessage`; everything else that cannot be
read -> :class:`MalformedMessage` with an ERR-2 location (segment^occurrence^field^rep^comp,
the occurrence counted per segment ID) and a table 0357 code.
"""

from __future__ import annotations

import dataclasses

from resolvers.labs.oru import (
    Header,
    MalformedMessage,
    ObservationSegment,
    OrderSegment,
    OruMessage,
    ParseWarning,
    PatientIdentifier,
    PatientSegment,
    UnsupportedMessage,
)

from . import tolerance
from .characters import check_characters
from .encoding import (
    Delimiters,
    codec_for,
    decode_message,
    hl7_time_to_iso,
    join_continuations,
    split_segments,
    timezone_of,
    unescape,
)
from .fields import c1, coded, composite, comps, first_rep, hd, missing, pad, text_value

__all__ = ["parse_oru", "peek_header", "read_header"]

# OBX-2 types whose value keeps its components (normalised to ^ and & separators).
_COMPOSITE = frozenset(("CE", "CWE", "CNE", "CF", "SN", "CX", "XCN", "XPN", "XAD", "XON",
                        "XTN", "ED", "RP", "CP", "MO", "CQ", "HD", "EI", "PN", "AD", "TN",
                        "CN", "CK", "CM"))
_TEXT = frozenset(("TX", "FT"))
_TIME = frozenset(("TS", "DTM"))


def read_header(msh: str, d: Delimiters, *, check: bool = True,
                warnings: list[ParseWarning] | None = None) -> Header:
    """MSH text -> Header. With ``check``, MSH-9 must be ORU^R01 (a bent spelling such as
    ``ORU_R01`` is read as it, with a warning) and MSH-12 an HL7 v2 version (2.5 assumed when
    empty); every assumption is appended to ``warnings``. MSH-10 is not checked: an empty one
    is replaced by :func:`parse_oru`, which has the whole text to hash. Without ``check``,
    ``message_type`` is whatever MSH-9.1^9.2 says and nothing is assumed."""
    f = pad(["MSH", d.field, *msh.split(d.field)[1:]], 19)
    charset = unescape(first_rep(f[18], d), d).strip()
    codec = codec_for(charset) or "utf-8"
    msg_type = comps(first_rep(f[9], d), d, 3)
    type_text = "^".join(unescape(p, d, codec) for p in msg_type[:2] if p)
    control_id = c1(f[10], d, codec)
    version = c1(f[12], d, codec)
    noted = warnings if warnings is not None else []
    if not check:
        pass
    elif not type_text:
        raise missing("MSH-9", "message type", "MSH^1^9")
    elif msg_type[0].upper() != "ORU" or msg_type[1].upper() != "R01":
        if msg_type[1] or not tolerance.is_bent_oru_r01(f[9]):
            raise UnsupportedMessage(type_text)
        noted.append(tolerance.bent_type_warning(f[9]))
    if check and version not in tolerance.KNOWN_VERSIONS:
        version, version_note = tolerance.version_warning(version)
        if version_note is not None:
            noted.append(version_note)
    return Header(
        sending_application=hd(f[3], d, codec), sending_facility=hd(f[4], d, codec),
        receiving_application=hd(f[5], d, codec), receiving_facility=hd(f[6], d, codec),
        timestamp=c1(f[7], d, codec), message_type="ORU^R01" if check else type_text,
        control_id=control_id,
        processing_id=c1(f[11], d, codec), version=version,
        accept_ack_type=c1(f[15], d, codec).upper(),
        application_ack_type=c1(f[16], d, codec).upper(), charset=charset)


def _identifiers(value: str, d: Delimiters, codec: str) -> tuple[PatientIdentifier, ...]:
    out: list[PatientIdentifier] = []
    for rep in value.split(d.repetition):
        c = comps(rep, d, 5)
        ident = unescape(c[0], d, codec) if c[0] else ""
        if not ident.strip():
            continue
        hd = pad(c[3].split(d.subcomponent), 3)
        out.append(PatientIdentifier(
            value=ident, assigning_authority=unescape(hd[0], d, codec),
            authority_universal_id=unescape(hd[1], d, codec),
            authority_id_type=unescape(hd[2], d, codec), id_type=unescape(c[4], d, codec)))
    return tuple(out)


def _patient(f: list[str], d: Delimiters, codec: str) -> PatientSegment:
    f = pad(f, 14)
    identifiers = _identifiers(f[3], d, codec)
    if not identifiers:
        raise MalformedMessage(
            "required field PID-3 (patient identifier list) has no identifier value (PID-3.1)",
            location="PID^1^3^1^1", hl7_error_code="101")
    names = f[5].split(d.repetition)
    name = next((n for n in names if comps(n, d, 7)[6] == "L"), names[0])
    xpn = comps(name, d, 3)
    family = unescape(xpn[0].split(d.subcomponent, 1)[0], d, codec)
    given = tuple(unescape(g, d, codec) for g in xpn[1:3] if g)
    lines: tuple[str, ...] = ()
    city = district = country = ""
    if f[11]:
        xad = comps(first_rep(f[11], d), d, 9)
        lines = tuple(unescape(x.split(d.subcomponent, 1)[0], d, codec) for x in xad[:2] if x)
        city = unescape(xad[2], d, codec)
        district = unescape(xad[8] or xad[3], d, codec)
        country = unescape(xad[5], d, codec)
    phones: list[str] = []
    for rep in f[13].split(d.repetition) if f[13] else ():
        xtn = comps(rep, d, 12)
        number = xtn[0] or (xtn[6] and ("+" + xtn[4] if xtn[4] else "") + xtn[5] + xtn[6]
                            ) or xtn[11]
        if number and xtn[1] != "NET":
            phones.append(unescape(number, d, codec))
    birth = c1(f[7], d, codec)
    return PatientSegment(
        identifiers=identifiers, family=family, given=given, birth_date=birth,
        birth_date_iso=hl7_time_to_iso(birth, date_only=True), sex=c1(f[8], d, codec),
        address_lines=lines, city=city, district=district, country=country,
        phones=tuple(phones))


class _Order:
    """An OBR while its OBX are read: they need its OBR-7 and OBR-25 to fill their gaps."""

    __slots__ = ("fields", "notes", "observations", "observed_at", "observed_at_iso", "orc",
                 "status")

    def __init__(self, fields: list[str], orc: list[str] | None, notes: list[str],
                 d: Delimiters, codec: str, zone: str) -> None:
        self.fields = fields
        self.orc = orc
        self.notes = notes
        self.observations: list[ObservationSegment] = []
        self.observed_at = c1(fields[7], d, codec)
        self.observed_at_iso = hl7_time_to_iso(self.observed_at, zone)
        self.status = c1(fields[25], d, codec)


def _order(o: _Order, d: Delimiters, codec: str) -> OrderSegment:
    f, orc = o.fields, pad(o.orc or [], 13)
    code, text, system = coded(f[4], d, codec)
    provider = f[16] or orc[12]
    return OrderSegment(
        set_id=c1(f[1], d, codec),
        placer_number=c1(f[2], d, codec) or c1(orc[2], d, codec),
        filler_number=c1(f[3], d, codec) or c1(orc[3], d, codec),
        code=code, code_text=text, code_system=system, observed_at=o.observed_at,
        observed_at_iso=o.observed_at_iso, status=o.status,
        ordering_provider="^".join(unescape(c, d, codec) for c in
                                   comps(first_rep(provider, d), d, 3)[:3]).rstrip("^"),
        observations=tuple(o.observations),
        notes=tuple(o.notes))


def _observation(f: list[str], d: Delimiters, codec: str, zone: str, seq: int,
                 notes: tuple[str, ...], order: _Order,
                 warnings: list[ParseWarning]) -> ObservationSegment:
    f = pad(f, 15)
    code, text, system = coded(f[3], d, codec)
    if not code and not text:
        raise missing("OBX-3", "observation identifier", f"OBX^{seq}^3^1^1")
    first_warning = len(warnings)  # what is added from here on was assumed for this OBX
    value_type = c1(f[2], d, codec).upper()
    raw = f[5]
    values: tuple[str, ...] = ()
    if raw:
        reps = raw.split(d.repetition)
        if not value_type:
            value_type, note = tolerance.inferred_value_type(unescape(reps[0], d, codec), seq)
            warnings.append(note)
        if value_type in _COMPOSITE:
            values = tuple(composite(r, d, codec) for r in reps)
        elif value_type in _TEXT:
            values = tuple(unescape(r, d, codec) for r in reps)
        elif value_type in _TIME:
            values = tuple(unescape(r.split(d.component, 1)[0], d, codec) for r in reps)
        else:
            values = tuple(unescape(r, d, codec) for r in reps)
    status = c1(f[11], d, codec)
    if not status:
        status, note = tolerance.assumed_result_status(order.status, seq)
        warnings.append(note)
    units = comps(first_rep(f[6], d), d, 3)
    unit = unescape(units[0], d, codec)
    if not unit and value_type == "NM" and values and values[0]:
        unit = unescape(units[1], d, codec)  # a unit written only as text is still the unit
        warnings.append(tolerance.units_from_text_warning(unit, seq) if unit
                        else tolerance.missing_units_warning(seq))
    observed_at = c1(f[14], d, codec)
    observed_at_iso = hl7_time_to_iso(observed_at, zone)
    if observed_at_iso is None and (observed_at or order.observed_at_iso is None):
        time_note = tolerance.effective_time_warning(
            observed_at, order.observed_at, order.observed_at_iso is not None, seq)
        if time_note is not None:
            warnings.append(time_note)
    result = ObservationSegment(
        set_id=c1(f[1], d, codec), value_type=value_type, code=code, code_text=text,
        code_system=system, sub_id=c1(f[4], d, codec), values=values,
        units=unit, units_system=unescape(units[2], d, codec),
        reference_range=unescape(first_rep(f[7], d), d, codec),
        abnormal_flags=tuple(a for a in (c1(r, d, codec) for r in f[8].split(d.repetition))
                             if a) if f[8] else (),
        status=status, observed_at=observed_at, observed_at_iso=observed_at_iso, notes=notes)
    if len(warnings) == first_warning:
        return result
    # Rare, so the common case does not pay for a second construction.
    return dataclasses.replace(result, assumptions=tuple(w.message for w in
                                                         warnings[first_warning:]))


def peek_header(raw: bytes | str) -> Header | None:
    """The MSH of any message, unchecked, or None when it cannot be read at all.

    For the ACK of a message :func:`parse_oru` refused: the sender's names, MSH-10 and the
    MSH-15/16 acknowledgement mode survive an error in the body or an unsupported MSH-9.
    """
    try:
        text = decode_message(bytes(raw)) if not isinstance(raw, str) else raw
        msh = split_segments(text)[0]
        return read_header(msh, Delimiters.from_msh(msh), check=False)
    except MalformedMessage:
        return None


def parse_oru(raw: bytes | str) -> OruMessage:
    """Parse one ORU^R01 (CR, LF or CRLF segment ends; bytes decoded per MSH-18)."""
    text = decode_message(bytes(raw)) if not isinstance(raw, str) else raw
    segments = split_segments(text)
    d = Delimiters.from_msh(segments[0])
    check_characters(text, segments, d)
    warnings: list[ParseWarning] = []
    header = read_header(segments[0], d, warnings=warnings)
    if not header.control_id:
        # MSH-10 is the dedupe key; a hash of the text keeps a resend a duplicate.
        control_id = tolerance.control_id_from_text(segments)
        header = dataclasses.replace(header, control_id=control_id)
        warnings.append(tolerance.control_id_warning(control_id))
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
    merged = join_continuations(segments[1:], fs)
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
                f = pad(merged[i].split(fs), 4)
                if f[3]:
                    obx_notes.append(text_value(f[3], d, codec))
                i += 1
            orders[-1].observations.append(_observation(
                seg.split(fs), d, codec, zone, seq, tuple(obx_notes), orders[-1], warnings))
            notes = None
        elif name == "NTE":
            f = pad(seg.split(fs), 4)
            if notes is not None and f[3]:
                notes.append(text_value(f[3], d, codec))
        elif name == "OBR":
            seq = counts["OBR"] = counts.get("OBR", 0) + 1
            if patient is None:
                break
            f = pad(seg.split(fs), 26)
            if not any(coded(f[4], d, codec)[:2]):
                # Safe to store: the report's identifier is the order number, not OBR-4, and
                # its code then says 'unknown' rather than borrowing a result's code.
                warnings.append(tolerance.missing_service_warning(seq))
            order = _Order(f, orc, orc_notes, d, codec, zone)
            if order.observed_at and order.observed_at_iso is None:
                warnings.append(tolerance.bad_order_time_warning(order.observed_at, seq))
            orders.append(order)
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
            patient_class = c1(pad(seg.split(fs), 3)[2], d, codec)
    if patient is None:
        raise MalformedMessage("required segment PID (patient identification) is missing "
                               "or comes after the first OBR", location="PID^1",
                               hl7_error_code="100")
    if not orders:
        raise MalformedMessage("the message has no OBR segment (observation request)",
                               location="OBR^1", hl7_error_code="100")
    if "OBX" not in counts:
        raise MalformedMessage("the message has no OBX segment (observation result): there "
                               "is no result to store", location="OBX^1", hl7_error_code="100")
    return OruMessage(header=header, patient=patient,
                      orders=tuple(_order(o, d, codec) for o in orders),
                      patient_class=patient_class, patient_notes=tuple(patient_notes),
                      warnings=tuple(warnings))
