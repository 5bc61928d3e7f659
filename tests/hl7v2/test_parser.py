"""parse_oru: the worked example, encodings, escapes, structure, errors, versions, size."""

from __future__ import annotations

import time

import pytest

from adapters.hl7v2.encoding import escape, hl7_time_to_iso, unescape
from adapters.hl7v2.parser import parse_oru
from resolvers.labs.oru import MalformedMessage, OruMessage, UnsupportedMessage
from tests.hl7v2.messages import PID, WORKED_EXAMPLE, WORKED_EXAMPLE_SEGMENTS, msh, obx, oru


def test_worked_example_from_the_standards_digest() -> None:
    m = parse_oru(WORKED_EXAMPLE)
    h = m.header
    assert (h.sending_application, h.sending_facility) == ("LABSYS", "CENTRAL_LAB")
    assert (h.receiving_application, h.receiving_facility) == ("GATEWAY", "DISTRICT_HOSP")
    assert (h.message_type, h.control_id, h.processing_id, h.version) == (
        "ORU^R01", "LAB000123", "P", "2.5")
    assert (h.timestamp, h.accept_ack_type, h.application_ack_type) == (
        "20260115083000+0300", "AL", "NE")

    p = m.patient
    assert [(i.value, i.system, i.id_type, i.assigning_authority) for i in p.identifiers] == [
        ("MRN4455", "urn:oid:2.16.840.1.113883.19.5", "MR", "DISTRICT_HOSP"),
        ("NID9988", "urn:oid:1.3.6.1.4.1.9999.1", "NI", "NATID")]
    assert (p.family, p.given, p.sex) == ("ODHIAMBO", ("GRACE", "A"), "F")
    assert (p.birth_date, p.birth_date_iso) == ("19850412", "1985-04-12")
    assert m.patient_class == "O"

    (order,) = m.orders
    assert (order.placer_number, order.filler_number) == ("PLC881", "FIL552")
    assert (order.code, order.code_text, order.code_system) == (
        "24323-8", "Comprehensive metabolic panel", "LN")
    assert (order.observed_at, order.observed_at_iso) == (
        "20260115071500", "2026-01-15T07:15:00+03:00")
    assert order.status == "F"

    potassium, bnp = order.observations
    assert (potassium.value_type, potassium.code, potassium.values) == ("NM", "2823-3", ("6.9",))
    assert (potassium.units, potassium.units_system) == ("mmol/L", "UCUM")
    assert (potassium.reference_range, potassium.abnormal_flags, potassium.status) == (
        "3.5-5.1", ("HH",), "F")
    assert potassium.observed_at_iso == "2026-01-15T07:15:00+03:00"
    assert potassium.notes == ("Not hemolysed\nWard called 08:27; ref A&E",)
    assert (bnp.value_type, bnp.values, bnp.reference_range, bnp.abnormal_flags) == (
        "SN", (">^900",), "<125", ("H",))
    assert bnp.notes == ()


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"])
@pytest.mark.parametrize("trailing", ["", "\r", "\n", "\r\n\r\n"])
def test_segment_endings(ending: str, trailing: str) -> None:
    m = parse_oru(ending.join(WORKED_EXAMPLE_SEGMENTS) + trailing)
    assert m == parse_oru(WORKED_EXAMPLE)


def test_bytes_input_and_mllp_leftovers_are_stripped() -> None:
    m = parse_oru(b"\x0b" + WORKED_EXAMPLE.encode() + b"\x1c\r")
    assert m == parse_oru(WORKED_EXAMPLE)


@pytest.mark.parametrize("charset, codec", [("8859/1", "latin-1"), ("ISO-8859-1", "latin-1"),
                                            ("UNICODE UTF-8", "utf-8"), ("", "utf-8")])
def test_charsets_from_msh_18(charset: str, codec: str) -> None:
    pid = r"PID|1||MRN1^^^HOSP^MR||AGYEMAN-BÉDI^ADJOA||19900101|F"
    raw = oru(pid=pid, charset=charset).encode(codec)
    m = parse_oru(raw)
    assert (m.patient.family, m.patient.given) == ("AGYEMAN-BÉDI", ("ADJOA",))
    assert m.header.charset == charset


def test_utf8_default_falls_back_to_latin1() -> None:
    pid = "PID|1||MRN1^^^HOSP^MR||Okonkwo-Émé^Ngozi||19900101|F"
    m = parse_oru(oru(pid=pid).encode("latin-1"))  # no MSH-18, and not valid UTF-8
    assert m.patient.family == "Okonkwo-Émé"


def test_ascii_declared_but_utf8_sent_is_still_read() -> None:
    pid = "PID|1||MRN1^^^HOSP^MR||Okonkwo-Émé^Ngozi||19900101|F"
    assert parse_oru(oru(pid=pid, charset="ASCII").encode()).patient.family == "Okonkwo-Émé"


def test_str_input_with_latin1_charset_is_taken_as_is() -> None:
    pid = "PID|1||MRN1^^^HOSP^MR||Agyeman-Bédi^Adjoa||19900101|F"
    assert parse_oru(oru(pid=pid, charset="8859/1")).patient.family == "Agyeman-Bédi"


@pytest.mark.parametrize("escaped, text", [
    (r"a\F\b", "a|b"), (r"a\S\b", "a^b"), (r"a\T\b", "a&b"), (r"a\R\b", "a~b"),
    (r"a\E\b", "a\\b"), (r"line1\.br\line2", "line1\nline2"), ("\\X41\\\\X4243\\", "ABC"),
    (r"\H\bold\N\ text", "bold text"), ("\\XC3A9\\", "é"), (r"no escape", "no escape"),
    (r"unterminated \F", "unterminated \\F"), (r"\Q\ kept", "\\Q\\ kept"),
])
def test_unescape(escaped: str, text: str) -> None:
    assert unescape(escaped) == text


def test_escape_round_trip() -> None:
    text = "a|b^c&d~e\\f\ng"
    assert escape(text) == r"a\F\b\S\c\T\d\R\e\E\f\.br\g"
    assert unescape(escape(text)) == text


def test_escapes_in_fields() -> None:
    segments = [msh(), r"PID|1||MRN\T\1^^^HOSP^MR||O\S\BRIEN^JOHN||19900101|M",
                r"OBR|1|P1|F1|CODE^Panel \F\ urgent^L|||20260115", r"NTE|1||order \E\ note",
                r"OBX|1|ST|X^Comment^L||pipe \F\ and \R\ tilde||||||F",
                r"OBX|2|CE|Y^Organism^L||112283007^E. coli \T\ co^SCT||||||F",
                r"OBX|3|TX|Z^Report^L||first\.br\second~third||||||F"]
    m = parse_oru("\r".join(segments))
    assert m.patient.identifiers[0].value == "MRN&1"
    assert m.patient.family == "O^BRIEN"
    order = m.orders[0]
    assert order.code_text == "Panel | urgent"
    assert order.notes == ("order \\ note",)
    st, ce, tx = order.observations
    assert st.values == ("pipe | and ~ tilde",)
    assert ce.values == ("112283007^E. coli & co^SCT",)
    assert tx.values == ("first\nsecond", "third")


def test_custom_encoding_characters() -> None:
    segments = [
        "MSH!$*#@!LABSYS!CENTRAL_LAB!GATEWAY!HOSP!20260115083000!!ORU$R01!C9!P!2.5",
        "PID!1!!MRN1$$$HOSP@2.16.840.1.113883.19.5@ISO$MR*NID2$$$NATID$NI!!DOE$JANE!!19900101!F",
        "OBR!1!P1!F1!24323-8$Panel #T# more$LN!!!20260115071500",
        "OBX!1!SN!33762-6$BNP$LN!!>$900!pg/mL$pg/mL$UCUM!<125!H*A!!!F",
        "OBX!2!CE!600-7$Culture$LN!!112283007$E. coli$SCT*3092008$S. aureus$SCT!!!!!!F",
        "NTE!1!L!a #F# b #S# c",
    ]
    m = parse_oru("\r".join(segments))
    assert m.header.message_type == "ORU^R01"
    assert [(i.value, i.system) for i in m.patient.identifiers] == [
        ("MRN1", "urn:oid:2.16.840.1.113883.19.5"), ("NID2", "urn:cari:hl7-authority:NATID")]
    assert m.patient.given == ("JANE",)
    order = m.orders[0]
    assert order.code_text == "Panel @ more"
    sn, ce = order.observations
    assert sn.values == (">^900",)  # normalised to ^ components for consumers
    assert sn.abnormal_flags == ("H", "A")
    assert ce.values == ("112283007^E. coli^SCT", "3092008^S. aureus^SCT")
    assert ce.notes == ("a ! b $ c",)


def test_repetitions_and_patient_details() -> None:
    pid = ("PID|1|EXT1|MRN1^^^HOSP&2.16.840.1.113883.19.5&ISO^MR~^^^EMPTY^XX~"
           "NID2^^^NATID&1.3.6.1.4.1.9999.1&ISO^NI~PP3^^^KEN^PPN||OTIENO^BRIAN^^^^^M~"
           "OTIENO^ACHIENG^W^^^^L||19850412093000|M|||12 Moi Ave^Flat 3^Nairobi^Nairobi^"
           "00100^KEN^H^^Nairobi County||0722000111^PRN^PH~^NET^Internet^a@b.ke~"
           "^PRN^CP^^254^7^11222333")
    m = parse_oru(oru(pid=pid))
    p = m.patient
    assert [i.value for i in p.identifiers] == ["MRN1", "NID2", "PP3"]
    assert p.identifiers[2].system == "urn:cari:hl7-authority:KEN"
    assert (p.family, p.given) == ("OTIENO", ("ACHIENG", "W"))  # the legal name (XPN.7 L)
    assert (p.birth_date, p.birth_date_iso) == ("19850412093000", "1985-04-12")
    assert p.address_lines == ("12 Moi Ave", "Flat 3")
    assert (p.city, p.district, p.country) == ("Nairobi", "Nairobi County", "KEN")
    assert p.phones == ("0722000111", "+254711222333")


def test_several_obr_groups_with_notes_at_every_level() -> None:
    segments = [
        msh(), PID, "NTE|1||patient note", "PV1|1|E",
        "ORC|RE|PL1|FI1", "OBR|1|||100^First panel^L|||20260115071500", "NTE|1||order note 1",
        obx(1), "NTE|1||obx note 1a", "NTE|2||obx note 1b", obx(2),
        "OBR|2|PL2^EXT|FI2^LAB|200^Second panel^L|||202601150800|||||||||1234^KAMAU^JOHN",
        obx(1, "POS", "ST"), "NTE|1||obx note 2", "NTE|2||",
        "ORC|RE|PL3|FI3", "NTE|1||note on ORC", "OBR|3|||300^Third^L", "ZZZ|custom|segment",
        obx(1),
    ]
    m = parse_oru("\r".join(segments))
    assert m.patient_notes == ("patient note",)
    assert m.patient_class == "E"
    first, second, third = m.orders
    assert (first.placer_number, first.filler_number) == ("PL1", "FI1")  # from ORC
    assert first.notes == ("order note 1",)
    assert [o.notes for o in first.observations] == [("obx note 1a", "obx note 1b"), ()]
    assert (second.placer_number, second.filler_number, second.ordering_provider) == (
        "PL2", "FI2", "1234^KAMAU^JOHN")
    assert second.observed_at_iso == "2026-01-15T08:00:00+03:00"
    assert second.observations[0].values == ("POS",)
    assert second.observations[0].notes == ("obx note 2",)
    assert third.notes == ("note on ORC",)
    assert (third.placer_number, len(third.observations)) == ("PL3", 1)


@pytest.mark.parametrize("value_type, raw, values", [
    ("NM", "6.9", ("6.9",)), ("SN", ">^900", (">^900",)), ("SN", "^1^:^128", ("^1^:^128",)),
    ("ST", "positive", ("positive",)), ("TX", r"a\.br\b", ("a\nb",)),
    ("FT", r"line 1\.br\line 2", ("line 1\nline 2",)),
    ("CE", "260373001^Detected^SCT", ("260373001^Detected^SCT",)),
    ("CWE", "260373001^Detected^SCT^^^^^^Detected", ("260373001^Detected^SCT^^^^^^Detected",)),
    ("DT", "20260115", ("20260115",)), ("TS", "202601150830^M", ("202601150830",)),
    ("NM", "", ()), ("NM", "1~2", ("1", "2")),
])
def test_value_types(value_type: str, raw: str, values: tuple[str, ...]) -> None:
    segment = f"OBX|1|{value_type}|X^Y^L||{raw}||||||F"
    m = parse_oru("\r".join([msh(), PID, "OBR|1|||P^Panel^L", segment]))
    assert m.orders[0].observations[0].values == values
    assert m.orders[0].observations[0].value_type == value_type


@pytest.mark.parametrize("version", ["2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7",
                                     "2.7.1", "2.8", "2.8.2"])
def test_versions(version: str) -> None:
    message_type = "ORU^R01" if version < "2.4" else "ORU^R01^ORU_R01"
    m = parse_oru(oru(2, version=version, message_type=message_type))
    assert m.header.version == version
    assert len(m.orders[0].observations) == 2
    assert m.warnings == ()


def test_a_300_obx_message() -> None:
    raw = oru(300)
    m = parse_oru(raw)
    assert len(m.orders[0].observations) == 300
    assert m.orders[0].observations[-1].set_id == "300"
    started = time.perf_counter()
    for _ in range(10):
        parse_oru(raw)
    assert (time.perf_counter() - started) / 10 < 0.05  # generous: ~2-3 ms measured


def test_raw_line_break_inside_a_comment_continues_the_segment() -> None:
    raw = "\r".join([msh(), PID, "OBR|1|||P^Panel^L", obx(1), "NTE|1||first line"])
    m = parse_oru(raw + "\nsecond line, sent with a bare LF")
    assert m.orders[0].observations[0].notes == ("first line\nsecond line, sent with a bare LF",)


@pytest.mark.parametrize("ts, iso", [
    ("2026", "2026"), ("202601", "2026-01"), ("20260115", "2026-01-15"),
    ("2026011508", "2026-01-15T08:00:00+03:00"), ("202601150830", "2026-01-15T08:30:00+03:00"),
    ("20260115083015.123", "2026-01-15T08:30:15.123+03:00"),
    ("20260115083015-0500", "2026-01-15T08:30:15-05:00"), ("20261315", None),
    ("2026-01-15", None), ("", None), ("20260115083015+99", None),
])
def test_time_conversion(ts: str, iso: str | None) -> None:
    assert hl7_time_to_iso(ts, "+03:00") == iso


def test_time_without_any_zone_stays_local() -> None:
    raw = oru().replace("20260115083000+0300", "20260115083000")
    assert parse_oru(raw).orders[0].observed_at_iso == "2026-01-15T07:15:00"


# ------------------------------------------------------------------ errors


def _malformed(raw: str | bytes) -> MalformedMessage:
    with pytest.raises(MalformedMessage) as info:
        parse_oru(raw)
    return info.value


@pytest.mark.parametrize("raw, location, code, words", [
    ("", "MSH^1", "100", "empty"),
    ("\r\n  \x0b\x1c", "MSH^1", "100", "empty"),
    (b"", "MSH^1", "100", "empty"),
    ("PID|1||X\rMSH|^~\\&", "MSH^1", "100", "start with an MSH"),
    ("MSH", "MSH^1^1", "101", "field separator"),
    ("MSHA^~\\&|", "MSH^1^1", "102", "field separator"),
    ("MSH|^~|LAB", "MSH^1^2", "102", "too short"),
    ("MSH||LAB", "MSH^1^2", "101", "too short"),
    ("MSH|^^\\&|LAB", "MSH^1^2", "102", "distinct"),
    ("MSH|^~\\|&|LAB", "MSH^1^2", "102", "too short"),
    ("MSH|^~A&|LAB", "MSH^1^2", "102", "alphanumeric"),
])
def test_malformed_envelope(raw: str, location: str, code: str, words: str) -> None:
    error = _malformed(raw)
    assert (error.location, error.hl7_error_code) == (location, code)
    assert words in str(error)


def test_missing_msh_9_and_a_version_that_is_not_2_x() -> None:
    # An empty MSH-10 or MSH-12 is accepted with an assumption: see test_tolerance.py.
    error = _malformed(oru(message_type=""))
    assert (error.location, error.hl7_error_code) == ("MSH^1^9", "101")
    assert "MSH-9" in str(error) and "message type" in str(error)
    error = _malformed(oru(version="3.0"))
    assert (error.location, error.hl7_error_code) == ("MSH^1^12", "203")
    assert "2.2 to 2.8" in str(error)


def test_missing_pid() -> None:
    raw = "\r".join([msh(), "OBR|1|||P^Panel^L", obx(1)])
    error = _malformed(raw)
    assert (error.location, error.hl7_error_code) == ("PID^1", "100")
    assert "PID" in str(error) and "missing" in str(error)


@pytest.mark.parametrize("pid3", ["", "^^^HOSP&2.16.840.1.113883.19.5&ISO^MR",
                                  "^^^HOSP^MR~^^^NATID^NI", "   ^^^HOSP^MR"])
def test_pid_3_without_any_id_value(pid3: str) -> None:
    error = _malformed(oru(pid=f"PID|1||{pid3}||DOE^JANE||19900101|F"))
    assert (error.location, error.hl7_error_code) == ("PID^1^3^1^1", "101")
    assert "PID-3" in str(error)


def test_second_patient_is_refused() -> None:
    error = _malformed(oru() + "\r" + PID)
    assert (error.location, error.hl7_error_code) == ("PID^2", "100")


def test_no_obr() -> None:
    error = _malformed("\r".join([msh(), PID]))
    assert (error.location, error.hl7_error_code) == ("OBR^1", "100")


def test_no_obx_at_all() -> None:
    error = _malformed("\r".join([msh(), PID, "OBR|1|||P^Panel^L|||20260115", "NTE|1||note"]))
    assert (error.location, error.hl7_error_code) == ("OBX^1", "100")
    assert "no OBX segment" in str(error)


def test_obx_before_obr() -> None:
    error = _malformed("\r".join([msh(), PID, obx(1)]))
    assert (error.location, error.hl7_error_code) == ("OBX^1", "100")


def test_obr_without_service_id_names_the_right_occurrence() -> None:
    m = parse_oru(oru(1) + "\rOBR|2|||^^L|||20260115")  # accepted: see test_tolerance.py
    assert [(w.location, w.hl7_error_code) for w in m.warnings] == [("OBR^2^4", "101")]
    assert "OBR-4" in m.warnings[0].message


def test_obr_service_id_alternate_code_is_enough() -> None:
    raw = oru(1) + "\rOBR|2|||^^^ALT1^Alternate^99LOC"
    m = parse_oru(raw)
    assert m.orders[1].code == "ALT1"
    assert m.warnings == ()


@pytest.mark.parametrize("segment, location, field", [
    ("OBX|3|NM|^^LN||5|||||||F", "OBX^3^3^1^1", "OBX-3"),  # a result nobody could name
])
def test_obx_required_fields(segment: str, location: str, field: str) -> None:
    # A missing OBX-11 or OBX-2 is accepted with an assumption: see test_tolerance.py.
    error = _malformed(oru(2) + "\r" + segment)
    assert (error.location, error.hl7_error_code) == (location, "101")
    assert field in str(error)


def test_obx_without_value_needs_no_type() -> None:
    m = parse_oru(oru(0) + "\rOBX|1||X^Y^LN||||||||X")
    assert m.orders[0].observations[0].values == ()


def test_undeclared_latin1_declared_charset_that_does_not_decode() -> None:
    raw = oru(charset="UNICODE UTF-16").encode("utf-8")  # odd length -> cannot be UTF-16
    raw += b"x" if len(raw) % 2 == 0 else b""
    error = _malformed(raw)
    assert (error.location, error.hl7_error_code) == ("MSH^1^18", "102")


@pytest.mark.parametrize("message_type, named", [
    ("ADT^A01^ADT_A01", "ADT^A01"), ("ORU^R30", "ORU^R30"), ("ORM^O01", "ORM^O01"),
    ("ACK", "ACK"),
])
def test_unsupported_types_are_named(message_type: str, named: str) -> None:
    with pytest.raises(UnsupportedMessage) as info:
        parse_oru(oru(message_type=message_type))
    assert info.value.message_type == named
    assert named in str(info.value)


def test_result_is_the_model_type() -> None:
    assert isinstance(parse_oru(WORKED_EXAMPLE), OruMessage)


def test_mutated_messages_fail_only_with_the_model_errors_and_can_be_acked() -> None:
    import random

    from adapters.hl7v2.ack import build_ack
    from adapters.hl7v2.parser import peek_header

    rnd = random.Random(20260115)
    base = WORKED_EXAMPLE.encode()
    alphabet = b"|^~\\&\r\n\x0bMSHPIDOBXR01 ABC123\xc3\xa9\xff"
    for _ in range(3000):
        data = bytearray(base)
        for _ in range(rnd.randint(1, 6)):
            pos = rnd.randrange(len(data) + 1)
            op = rnd.random()
            if op < 0.4:
                del data[pos:pos + rnd.randint(1, 20)]
            elif op < 0.8:
                data[pos:pos] = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(1, 3)))
            else:
                data = data[:pos]
        raw = bytes(data)
        try:
            parse_oru(raw)
        except (MalformedMessage, UnsupportedMessage) as error:
            for header in (peek_header(raw), None):
                ack = build_ack(header, raw, "AR", error=error)
                assert ack.startswith("MSH|^~\\&|") and "\rMSA|AR|" in ack
