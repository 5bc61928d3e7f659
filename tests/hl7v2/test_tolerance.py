"""Liberal ingest, strict storage: what parse_oru accepts that senders leave out or bend, the
warning each assumption leaves (ERR-2 location, text, table 0357 code), how it is stored on
the FHIR Observation, and the refusals that remain."""

from __future__ import annotations

import pytest

from adapters.fhir.validator import FhirValidator
from adapters.hl7v2.parser import parse_oru
from resolvers.labs.oru import MalformedMessage, OruMessage, UnsupportedMessage
from resolvers.labs.to_fhir import observation_resource, report_resource
from tests.hl7v2.messages import PID, WORKED_EXAMPLE, WORKED_EXAMPLE_SEGMENTS, msh, obx, oru

# The example of the product documentation (POST /api/lab/hl7-ingest), as printed: LF line
# ends, no OBX-11, no OBR-7, no OBX-14.
DOCUMENTED_EXAMPLE = """\
MSH|^~\\&|LAB_SYSTEM|FACILITY|CARI|CARI|20260415120000||ORU^R01|MSG001|P|2.5
PID|1||PAT001||DOE^JANE||19900315|F
OBR|1||ORD001|CBC^Complete Blood Count
OBX|1|NM|WBC^White Blood Cell Count||7.5|10*3/uL|4.5-11.0|N"""

OBR = "OBR|1|PLC1|FIL1|24323-8^Panel^LN|||20260115071500"
VALIDATOR = FhirValidator()


def _warnings(m: OruMessage) -> list[tuple[str, str, str]]:
    return [(w.location, w.hl7_error_code, w.message) for w in m.warnings]


def _parse(*segments: str) -> OruMessage:
    return parse_oru("\r".join([msh(), PID, *segments]))


def _valid_observation(m: OruMessage) -> dict[str, object]:
    order = m.orders[0]
    resource = observation_resource(m, order, order.observations[0], "Patient/p-1")
    issues = VALIDATOR.validate(resource)
    assert issues == [], [(i.expression, i.diagnostics) for i in issues]
    assert VALIDATOR.validate(report_resource(m, order, "Patient/p-1", ["Observation/o"])) == []
    return resource


def test_the_documented_example_is_accepted_with_its_assumptions() -> None:
    m = parse_oru(DOCUMENTED_EXAMPLE)
    assert (m.header.control_id, m.header.version, m.header.message_type) == (
        "MSG001", "2.5", "ORU^R01")
    (result,) = m.orders[0].observations
    assert (result.code, result.values, result.units, result.status) == (
        "WBC", ("7.5",), "10*3/uL", "F")
    assert _warnings(m) == [
        ("OBX^1^11", "101",
         "OBX-11 (result status) was missing and OBR-25 is empty; assumed F (final)"),
        # Neither OBR-7 nor OBX-14 is sent: a result without a time matters clinically.
        ("OBX^1^14", "101",
         "OBX-14 and OBR-7 (observation time) were missing; effective time unknown")]
    assert result.assumptions == tuple(w.message for w in m.warnings)
    resource = _valid_observation(m)
    assert resource["status"] == "final"
    assert "effectiveDateTime" not in resource
    assert resource["note"] == [
        {"text": "Gateway assumption: OBX-11 (result status) was missing and OBR-25 is empty; "
                 "assumed F (final)"},
        {"text": "Gateway assumption: OBX-14 and OBR-7 (observation time) were missing; "
                 "effective time unknown"}]


def test_a_complete_message_has_no_warnings() -> None:
    m = parse_oru(WORKED_EXAMPLE)
    assert m.warnings == ()
    assert all(o.assumptions == () for o in m.orders[0].observations)


# ------------------------------------------------------------------ OBX-11 from OBR-25


@pytest.mark.parametrize("obr_25, status, message", [
    ("F", "F", "OBX-11 (result status) was missing; status taken from OBR-25 (F)"),
    ("C", "C", "OBX-11 (result status) was missing; status taken from OBR-25 (C)"),
    ("P", "P", "OBX-11 (result status) was missing; status taken from OBR-25 (P)"),
    ("R", "P", "OBX-11 (result status) was missing; status P (preliminary) taken from "
               "OBR-25 (R)"),
    ("A", "P", "OBX-11 (result status) was missing; status P (preliminary) taken from "
               "OBR-25 (A)"),
    ("X", "X", "OBX-11 (result status) was missing; status taken from OBR-25 (X)"),
    ("I", "F", "OBX-11 (result status) was missing and OBR-25 (I) is not a result status; "
               "assumed F (final)"),
    ("", "F", "OBX-11 (result status) was missing and OBR-25 is empty; assumed F (final)"),
])
def test_missing_obx_11_takes_the_order_status(obr_25: str, status: str, message: str) -> None:
    obr = OBR + "|" * 18 + obr_25  # OBR-25
    m = _parse(obr, "OBX|1|NM|2823-3^K^LN||4.1|mmol/L|3.5-5.1|N|||", "OBX|2|NM|X^Y^L||1|g|||||F")
    first, second = m.orders[0].observations
    assert (m.orders[0].status, first.status, second.status) == (obr_25, status, "F")
    assert _warnings(m) == [("OBX^1^11", "101", message)]
    assert first.assumptions == (message,) and second.assumptions == ()
    assert _valid_observation(m)["note"] == [{"text": "Gateway assumption: " + message}]


# ------------------------------------------------------------------ OBX-2, OBX-6, OBX-7


@pytest.mark.parametrize("value, value_type, reason", [
    ("7.5", "NM", "NM (numeric) inferred from the value"),
    ("-3", "NM", "NM (numeric) inferred from the value"),
    ("positive", "ST", "ST (string) assumed, the value is kept as text"),
    (">5", "ST", "ST (string) assumed, the value is kept as text"),
    ("1,5", "ST", "ST (string) assumed, the value is kept as text"),
])
def test_missing_obx_2_is_inferred(value: str, value_type: str, reason: str) -> None:
    m = _parse(OBR, f"OBX|1||X^Y^L||{value}|mmol/L|||||F")
    (result,) = m.orders[0].observations
    assert (result.value_type, result.values) == (value_type, (value,))
    assert _warnings(m) == [("OBX^1^2", "101", f"OBX-2 (value type) was missing; {reason}")]
    resource = _valid_observation(m)
    assert ("valueQuantity" if value_type == "NM" else "valueString") in resource


def test_missing_units_on_a_numeric_result() -> None:
    m = _parse(OBR, "OBX|1|NM|5803-2^pH^LN||6.5||||||F", "OBX|2|ST|X^Y^L||positive||||||F",
               "OBX|3|NM|X^Z^L||||||||X")  # a text without a unit, a NM without a value
    assert _warnings(m) == [("OBX^1^6", "0", "OBX-6 (units) was missing for a numeric (NM) "
                                             "result; the value is stored without a unit")]
    resource = _valid_observation(m)
    assert resource["valueQuantity"] == {"value": 6.5}


def test_a_unit_sent_only_as_text_is_used() -> None:
    m = _parse(OBR, "OBX|1|NM|2823-3^K^LN||4.1|^mmol/L^UCUM|3.5-5.1||||F")
    assert m.orders[0].observations[0].units == "mmol/L"
    assert _warnings(m) == [("OBX^1^6", "0", "OBX-6.1 (unit identifier) was empty; unit taken "
                                             "from OBX-6.2 (unit text) 'mmol/L'")]


def test_missing_reference_range_and_flags_need_no_warning() -> None:
    m = _parse(OBR, "OBX|1|NM|2823-3^K^LN||4.1|mmol/L|||||F")
    assert (m.orders[0].observations[0].reference_range, m.warnings) == ("", ())


# ------------------------------------------------------------------ dates


def test_obx_14_missing_but_obr_7_present_is_the_usual_case() -> None:
    m = _parse(OBR, "OBX|1|NM|2823-3^K^LN||4.1|mmol/L|||||F")
    assert m.warnings == ()
    assert _valid_observation(m)["effectiveDateTime"] == "2026-01-15T07:15:00+03:00"


def test_obr_7_missing_but_obx_14_present() -> None:
    m = _parse("OBR|1|PLC1|FIL1|24323-8^Panel^LN", obx(1))
    assert m.warnings == ()
    assert m.orders[0].observed_at_iso is None
    assert m.orders[0].observations[0].observed_at_iso == "2026-01-15T07:15:00+03:00"


def test_a_result_without_any_time() -> None:
    m = _parse("OBR|1|PLC1|FIL1|24323-8^Panel^LN", "OBX|1|NM|2823-3^K^LN||4.1|mmol/L|||||F")
    assert _warnings(m) == [("OBX^1^14", "101", "OBX-14 and OBR-7 (observation time) were "
                                                "missing; effective time unknown")]
    assert "effectiveDateTime" not in _valid_observation(m)


def test_unreadable_times() -> None:
    m = _parse(OBR, "OBX|1|NM|2823-3^K^LN||4.1|mmol/L|||||F|||15/01/2026")
    assert _warnings(m) == [("OBX^1^14", "102", "OBX-14 (observation time) '15/01/2026' is not "
                                                "an HL7 date/time; effective time taken from "
                                                "OBR-7")]
    assert _valid_observation(m)["effectiveDateTime"] == "2026-01-15T07:15:00+03:00"
    m = _parse("OBR|1|PLC1|FIL1|24323-8^Panel^LN|||2026-01-15",
               "OBX|1|NM|2823-3^K^LN||4.1|mmol/L|||||F")
    assert _warnings(m) == [
        ("OBR^1^7", "102", "OBR-7 (observation time) '2026-01-15' is not an HL7 date/time; "
                           "the report's effective time is unknown"),
        ("OBX^1^14", "102", "OBX-14 (observation time) was missing and OBR-7 '2026-01-15' is "
                            "not an HL7 date/time; effective time unknown")]


# ------------------------------------------------------------------ OBR-4


def test_missing_obr_4_is_stored_as_unknown() -> None:
    m = _parse("OBR|1|PLC1|FIL1||||20260115071500", obx(1))
    assert (m.orders[0].code, m.orders[0].code_text) == ("", "")
    assert _warnings(m) == [("OBR^1^4", "101", "OBR-4 (universal service identifier) was "
                                               "missing; the report is stored with the code "
                                               "'unknown'")]
    report = report_resource(m, m.orders[0], "Patient/p", [])
    assert report["code"] == {"text": "unknown"}
    assert report["identifier"][0]["value"] == "FIL1"  # identified by its order, not OBR-4
    _valid_observation(m)


# ------------------------------------------------------------------ MSH


@pytest.mark.parametrize("message_type", ["ORU^R01", "oru^r01", "ORU^R01^ORU_R01"])
def test_msh_9_without_its_structure_is_normal(message_type: str) -> None:
    m = parse_oru(oru(message_type=message_type))
    assert (m.header.message_type, m.warnings) == ("ORU^R01", ())


@pytest.mark.parametrize("message_type", ["ORU_R01", "ORU-R01", "oru_r01", "ORU&R01",
                                          "ORU~R01", "ORU R01", "ORUR01"])
def test_msh_9_with_the_wrong_separator_is_read_as_oru_r01(message_type: str) -> None:
    m = parse_oru(oru(message_type=message_type))
    assert m.header.message_type == "ORU^R01"
    assert _warnings(m) == [("MSH^1^9", "102", f"MSH-9 (message type) {message_type!r} does "
                                               "not separate its components with '^'; read "
                                               "as ORU^R01")]


@pytest.mark.parametrize("message_type", ["ORU", "ORU_R30", "ORU^R30", "ORUXR01", "ADT_A01",
                                          "ORU_R01^ORU_R01", "ORM^O01"])
def test_other_types_stay_unsupported(message_type: str) -> None:
    with pytest.raises(UnsupportedMessage):
        parse_oru(oru(message_type=message_type))


def test_missing_control_id_is_a_hash_of_the_text() -> None:
    raw = oru(control_id="")
    m = parse_oru(raw)
    control_id = m.header.control_id
    assert control_id.startswith("sha256:") and len(control_id) == 39
    assert _warnings(m) == [("MSH^1^10", "101", f"MSH-10 (message control ID) was missing; "
                                                f"{control_id} (a hash of the message text) "
                                                "is used to recognise a resend")]
    # A resend, however framed, dedupes; another message does not.
    resent = b"\x0b" + raw.replace("\r", "\r\n").encode() + b"\x1c\r"
    assert parse_oru(resent).header.control_id == control_id
    assert parse_oru(oru(2, control_id="")).header.control_id != control_id


@pytest.mark.parametrize("version", ["2.2", "2.8", "2.8.2", "2.5.1"])
def test_versions_2_2_to_2_8_need_no_warning(version: str) -> None:
    m = parse_oru(oru(version=version))
    assert (m.header.version, m.warnings) == (version, ())


def test_missing_version_assumes_2_5() -> None:
    m = parse_oru(oru(version=""))
    assert m.header.version == "2.5"
    assert _warnings(m) == [("MSH^1^12", "101", "MSH-12 (version ID) was missing; assumed 2.5")]


def test_another_2_x_version_is_read_with_a_warning() -> None:
    m = parse_oru(oru(version="2.9"))
    assert m.header.version == "2.9"
    assert _warnings(m) == [("MSH^1^12", "203", "MSH-12 (version ID) 2.9 is outside 2.2 to "
                                                "2.8; read with the same field layout, which "
                                                "the fields used here share")]


@pytest.mark.parametrize("version", ["3.0", "2", "V2.5", "2.x", "1.0"])
def test_versions_that_are_not_2_x_are_refused(version: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_oru(oru(version=version))
    assert (info.value.location, info.value.hl7_error_code) == ("MSH^1^12", "203")
    assert str(info.value) == f"HL7 version {version!r} is not supported (2.2 to 2.8 are)"


# ------------------------------------------------------------------ segments and framing


def test_z_segments_and_unexpected_segments_are_ignored() -> None:
    with_extras = [WORKED_EXAMPLE_SEGMENTS[0], "SFT|Vendor|1.0", "EVN|R01|20260115",
                   WORKED_EXAMPLE_SEGMENTS[1], "ZPI|1|custom^patient|data",
                   *WORKED_EXAMPLE_SEGMENTS[2:5], "TQ1|1||||||20260115", "ZBR|order|extras",
                   *WORKED_EXAMPLE_SEGMENTS[5:7], "ZOB|between|results", "SPM|1|SP1||BLD",
                   WORKED_EXAMPLE_SEGMENTS[7], "CTI|1", "ZZ9|last", "DSC|1"]
    m = parse_oru("\r".join(with_extras))
    expected = parse_oru(WORKED_EXAMPLE)
    assert (m.patient, m.orders, m.warnings) == (expected.patient, expected.orders, ())


@pytest.mark.parametrize("wrap", [
    pytest.param(lambda t: "\ufeff" + t, id="bom"),
    pytest.param(lambda t: "\x0b" + t + "\x1c\r", id="mllp-framing-in-text"),
    pytest.param(lambda t: "\ufeff\x0b" + t + "\x1c\r\n", id="bom-and-framing"),
    pytest.param(lambda t: "\n\n   " + t + "\n   \n", id="surrounding-whitespace"),
    pytest.param(lambda t: t.replace("\r", "\r\r\n  \r"), id="blank-lines"),
    pytest.param(lambda t: t.replace("\r", "   \r"), id="blanks-at-line-ends"),
    pytest.param(lambda t: t.replace("\r", "\n    "), id="indented-segments"),
    pytest.param(lambda t: t.replace("\r", "||||\r") + "|||", id="trailing-empty-fields"),
])
def test_framing_and_whitespace_around_the_segments(wrap: object) -> None:
    assert callable(wrap)
    text = wrap(WORKED_EXAMPLE)
    expected = parse_oru(WORKED_EXAMPLE)
    assert parse_oru(text) == expected
    assert parse_oru(text.encode()) == expected


def test_bom_in_bytes_with_a_latin1_body() -> None:
    raw = oru(pid="PID|1||MRN1^^^HOSP^MR||Okonkwo-Émé^Ngozi||19900101|F").encode("latin-1")
    m = parse_oru(b"\x0b\xef\xbb\xbf" + raw + b"\x1c\r")
    assert (m.header.sending_application, m.patient.family) == ("LABSYS", "Okonkwo-Émé")


def test_an_indented_comment_line_is_still_a_continuation() -> None:
    m = _parse(OBR, obx(1), "NTE|1||first line\r   second line, indented")
    assert m.orders[0].observations[0].notes == ("first line\n   second line, indented",)


# ------------------------------------------------------------------ what is still refused


@pytest.mark.parametrize("raw, error, location, words", [
    ("\r".join([PID, OBR, obx(1)]), MalformedMessage, "MSH^1", "start with an MSH"),
    ("just some text\nthat is not HL7", MalformedMessage, "MSH^1", "start with an MSH"),
    ("\ufeff\x0b\x1c\r\n", MalformedMessage, "MSH^1", "empty"),
    ("\r".join([msh(), OBR, obx(1)]), MalformedMessage, "PID^1", "PID"),
    ("\r".join([msh(), PID, OBR]), MalformedMessage, "OBX^1", "no OBX segment"),
    ("\r".join([msh(), PID]), MalformedMessage, "OBR^1", "no OBR segment"),
    ("\r".join([msh(), "PID|1||||DOE^JANE||19900101|F", OBR, obx(1)]), MalformedMessage,
     "PID^1^3^1^1", "PID-3"),
    ("\r".join([msh(), PID, OBR, "OBX|1|NM|||5|||||F"]), MalformedMessage, "OBX^1^3^1^1",
     "OBX-3"),
    (oru(message_type="ADT^A01^ADT_A01"), UnsupportedMessage, None, "ADT^A01"),
])
def test_what_cannot_be_used_is_still_refused(raw: str, error: type[Exception],
                                              location: str | None, words: str) -> None:
    with pytest.raises(error) as info:
        parse_oru(raw)
    assert words in str(info.value)
    if location is not None:
        assert isinstance(info.value, MalformedMessage) and info.value.location == location


def test_every_warning_in_message_order() -> None:
    raw = "\r".join([msh(version="", control_id=""), PID, "OBR|1|||", "OBX|1||X^Y^L||12||||||",
                     "OBR|2|||P^Panel^L|||20260115", "OBX|1|NM|X^Z^L||3|mg|||||F"])
    m = parse_oru(raw)
    assert [w.location for w in m.warnings] == [
        "MSH^1^12", "MSH^1^10", "OBR^1^4", "OBX^1^2", "OBX^1^11", "OBX^1^6", "OBX^1^14"]
    assert m.orders[0].observations[0].assumptions == tuple(w.message for w in m.warnings[3:])
    assert m.orders[1].observations[0].assumptions == ()


def test_a_blank_text_value_is_stored_as_absent() -> None:
    # Found by the hypothesis test over lab output: FHIR strings need a non-blank character.
    m = _parse(OBR, "OBX|1|ST|X^Y^L||\xa0||||||F")
    resource = _valid_observation(m)
    assert "valueString" not in resource and "dataAbsentReason" in resource
