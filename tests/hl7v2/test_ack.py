"""ACK building and the original/enhanced acknowledgement rules (MSH-15/16, table 0155)."""

from __future__ import annotations

import datetime

import pytest

from adapters.hl7v2.ack import ack_mode, acks_to_send, build_ack, encode_ack, respond
from adapters.hl7v2.parser import parse_oru, peek_header
from resolvers.labs.oru import Header, MalformedMessage, ParseWarning, UnsupportedMessage
from tests.hl7v2.messages import DIGEST_ERR_ACK, WORKED_EXAMPLE, oru

NOW = datetime.datetime(2026, 1, 15, 8, 30, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=3)))


def _header(accept: str = "", application: str = "", charset: str = "") -> Header:
    return Header("LABSYS", "CENTRAL_LAB", "GATEWAY", "DISTRICT_HOSP", "20260115083000+0300",
                  "ORU^R01", "LAB000123", "P", "2.5", accept, application, charset)


def test_commit_accept_for_the_worked_example() -> None:
    m = parse_oru(WORKED_EXAMPLE)
    assert ack_mode(m.header) == "enhanced"
    assert acks_to_send(m.header, accepted=True, app_ok=True) == ["CA"]  # MSH-16 is NE
    ack = build_ack(m.header, WORKED_EXAMPLE, "CA", now=NOW, control_id="GW0000777")
    assert ack == ("MSH|^~\\&|GATEWAY|DISTRICT_HOSP|LABSYS|CENTRAL_LAB|20260115083001+0300||"
                   "ACK^R01^ACK|GW0000777|P|2.5\rMSA|CA|LAB000123\r")


def test_the_digest_err_example_for_an_empty_pid_3() -> None:
    raw = WORKED_EXAMPLE.replace("PID|1||MRN4455", "PID|1||")
    raw = raw.replace("~NID9988", "~")
    with pytest.raises(MalformedMessage) as info:
        parse_oru(raw)
    header = peek_header(raw)
    assert header is not None
    assert acks_to_send(header, accepted=False, app_ok=False) == ["CE"]
    ack = build_ack(header, raw, "CE", error=info.value, now=NOW, control_id="GW0000777")
    msh, msa, err, end = ack.split("\r")
    expected = DIGEST_ERR_ACK.split("\r")
    assert [msh, msa] == expected[:2]
    assert err.startswith(expected[2] + "||||")  # + ERR-8, the readable reason
    assert err.split("|")[8] == "required field PID-3 (patient identifier list) has no " \
                                "identifier value (PID-3.1)"
    assert end == ""
    # The same failure in original mode is an AE.
    original = peek_header(raw.replace("|||AL|NE", "||||"))
    assert original is not None and ack_mode(original) == "original"
    assert acks_to_send(original, accepted=False, app_ok=False) == ["AE"]
    ack = build_ack(original, raw, "AE", error=info.value, now=NOW, control_id="GW0000777")
    assert ack.split("\r")[1] == "MSA|AE|LAB000123"


def test_unsupported_type_is_rejected_with_the_trigger_echoed() -> None:
    raw = oru(message_type="ADT^A01^ADT_A01", control_id="ADT77")
    with pytest.raises(UnsupportedMessage) as info:
        parse_oru(raw)
    header = peek_header(raw)
    assert header is not None and header.message_type == "ADT^A01"
    assert acks_to_send(header, accepted=False, app_ok=False, rejected=True) == ["AR"]
    msh, msa, err, _ = build_ack(header, raw, "AR", error=info.value).split("\r")
    assert msh.split("|")[8] == "ACK^A01^ACK"
    assert msa == "MSA|AR|ADT77"
    assert err.startswith("ERR||MSH^1^9|200^Unsupported message type^HL70357|E||||")
    assert "not ADT\\S\\A01" in err  # ^ escaped in ERR-8


def test_unreadable_message_still_gets_a_minimal_ar() -> None:
    ack = build_ack(None, b"\x00\x01 this is not HL7", "AR",
                    error=MalformedMessage("the message must start with an MSH segment",
                                           location="MSH^1"), now=NOW, control_id="GW1")
    msh, msa, err, _ = ack.split("\r")
    assert msh == "MSH|^~\\&|||||20260115083001+0300||ACK|GW1|P|2.5"
    assert msa == "MSA|AR|"
    assert err.startswith("ERR||MSH^1|100^Segment sequence error^HL70357|E")
    assert build_ack(None, None, "AR").split("\r")[1] == "MSA|AR|"


def test_header_read_leniently_from_raw_when_not_parsed() -> None:
    raw = "MSH|^~\\&|LAB\\T\\X|FAC|GW|HOSP|2026||ORU^R01|C42|T|2.5\rgarbage"
    ack = build_ack(None, raw, "AE", error="something broke", control_id="GW2", now=NOW)
    msh, msa, err, _ = ack.split("\r")
    assert msh.split("|")[2:6] == ["GW", "HOSP", "LAB\\T\\X", "FAC"]  # swapped, re-escaped
    assert msh.split("|")[10] == "T"
    assert msa == "MSA|AE|C42"
    assert err == "ERR|||207^Application internal error^HL70357|E||||something broke"


def test_error_texts_are_escaped() -> None:
    error = MalformedMessage("bad | value ^ with & and ~ and \\ and\nnewline",
                             location="OBX^1^5", hl7_error_code="102")
    err = build_ack(_header(), None, "AE", error=error).split("\r")[2]
    assert err.split("|")[8] == r"bad \F\ value \S\ with \T\ and \R\ and \E\ and\.br\newline"
    assert err.split("|")[2:5] == ["OBX^1^5", "102^Data type error^HL70357", "E"]


def test_fresh_control_ids_and_charset_echo() -> None:
    a = build_ack(_header(), None, "AA").split("\r")[0].split("|")
    b = build_ack(_header(), None, "AA").split("\r")[0].split("|")
    assert a[9] != b[9] and len(a[9]) <= 20
    latin = _header(charset="8859/1")
    ack = build_ack(latin, None, "AA")
    assert ack.split("\r")[0].split("|")[17] == "8859/1"
    assert encode_ack("é", latin) == b"\xe9"
    assert encode_ack("é") == "é".encode()


def test_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError, match="acknowledgement code"):
        build_ack(_header(), None, "OK")


@pytest.mark.parametrize("accepted, app_ok, rejected, codes", [
    (True, True, False, ["AA"]), (True, False, False, ["AE"]), (False, False, False, ["AE"]),
    (False, False, True, ["AR"]),
])
def test_original_mode(accepted: bool, app_ok: bool, rejected: bool, codes: list[str]) -> None:
    assert ack_mode(_header()) == "original" and ack_mode(None) == "original"
    assert acks_to_send(_header(), accepted, app_ok, rejected=rejected) == codes


@pytest.mark.parametrize("accept, application, accepted, app_ok, rejected, codes", [
    ("AL", "AL", True, True, False, ["CA", "AA"]),
    ("AL", "AL", True, False, False, ["CA", "AE"]),
    ("AL", "AL", False, False, False, ["CE"]),
    ("AL", "AL", False, False, True, ["CR"]),
    ("AL", "NE", True, True, False, ["CA"]),
    ("NE", "AL", True, True, False, ["AA"]),
    ("NE", "NE", True, True, False, []),
    ("ER", "ER", True, True, False, []),
    ("ER", "ER", True, False, False, ["AE"]),
    ("ER", "ER", False, False, False, ["CE"]),
    ("SU", "SU", True, True, False, ["CA", "AA"]),
    ("SU", "SU", True, False, False, ["CA"]),
    ("SU", "SU", False, False, True, []),
    ("", "AL", True, True, False, ["CA", "AA"]),  # empty counts as AL in enhanced mode
    ("AL", "", True, True, False, ["CA", "AA"]),
])
def test_enhanced_mode_table_0155(accept: str, application: str, accepted: bool, app_ok: bool,
                                  rejected: bool, codes: list[str]) -> None:
    header = _header(accept, application)
    assert ack_mode(header) == "enhanced"
    assert acks_to_send(header, accepted, app_ok, rejected=rejected) == codes


def test_respond_builds_every_ack_and_errs_only_the_failures() -> None:
    header = _header("AL", "AL")
    commit, application = respond(header, None, accepted=True, app_ok=False,
                                  error="patient unknown")
    assert commit.split("\r")[1] == "MSA|CA|LAB000123" and "ERR" not in commit
    assert application.split("\r")[1] == "MSA|AE|LAB000123"
    assert application.split("\r")[2].endswith("|patient unknown")


def test_respond_without_a_header_reads_the_ack_mode_from_raw() -> None:
    raw = WORKED_EXAMPLE.replace("PID|1||MRN4455", "PID|1||").replace("~NID9988", "~")
    with pytest.raises(MalformedMessage) as info:
        parse_oru(raw)
    (ack,) = respond(None, raw, accepted=False, app_ok=False, error=info.value)
    assert ack.split("\r")[1] == "MSA|CE|LAB000123"  # enhanced mode (MSH-15 AL) kept
    assert ack.split("\r")[2].startswith("ERR||PID^1^3^1^1|101^")
    (ack,) = respond(None, oru(message_type="ADT^A01"), accepted=False, app_ok=False,
                     rejected=True, error=UnsupportedMessage("ADT^A01"))
    assert ack.split("\r")[0].split("|")[8] == "ACK^A01^ACK"
    assert ack.split("\r")[1] == "MSA|AR|CTRL1"
    assert respond(None, b"junk", accepted=False, app_ok=False, error="x")[0].split("\r")[1] \
        == "MSA|AE|"


# ------------------------------------------------------------------ parse warnings (ERR W)

DOCUMENTED_EXAMPLE = (
    "MSH|^~\\&|LAB_SYSTEM|FACILITY|CARI|CARI|20260415120000||ORU^R01|MSG001|P|2.5\r"
    "PID|1||PAT001||DOE^JANE||19900315|F\r"
    "OBR|1||ORD001|CBC^Complete Blood Count\r"
    "OBX|1|NM|WBC^White Blood Cell Count||7.5|10*3/uL|4.5-11.0|N")


def test_an_accepted_message_acks_each_assumption_as_a_warning() -> None:
    m = parse_oru(DOCUMENTED_EXAMPLE)
    (ack,) = respond(m.header, DOCUMENTED_EXAMPLE, accepted=True, app_ok=True, now=NOW,
                     warnings=m.warnings)
    msh, msa, obx_11, obx_14, end = ack.split("\r")
    assert msh.split("|")[8] == "ACK^R01^ACK"
    assert msa == "MSA|AA|MSG001"
    assert obx_11 == ("ERR||OBX^1^11|101^Required field missing^HL70357|W||||OBX-11 (result "
                      "status) was missing and OBR-25 is empty; assumed F (final)")
    assert obx_14 == ("ERR||OBX^1^14|101^Required field missing^HL70357|W||||OBX-14 and OBR-7 "
                      "(observation time) were missing; effective time unknown")
    assert end == ""


def test_warnings_go_on_every_ack_of_enhanced_mode_and_after_an_error() -> None:
    warning = ParseWarning("OBX^2^6", "OBX-6 (units) was missing; a ^ and a | escaped", "0")
    commit, application = respond(_header("AL", "AL"), None, accepted=True, app_ok=False,
                                  error="patient unknown", warnings=[warning])
    expected = ("ERR||OBX^2^6|0^Message accepted^HL70357|W||||OBX-6 (units) was missing; "
                "a \\S\\ and a \\F\\ escaped")
    assert commit.split("\r")[1:3] == ["MSA|CA|LAB000123", expected]
    msa, err, warn = application.split("\r")[1:4]
    assert (msa, err, warn) == ("MSA|AE|LAB000123",
                                "ERR|||207^Application internal error^HL70357|E||||patient unknown",
                                expected)
    assert "ERR" not in build_ack(_header(), None, "AA")  # no warnings, no ERR


def test_a_replaced_control_id_is_not_echoed_as_the_senders() -> None:
    raw = oru(control_id="")
    m = parse_oru(raw)
    # The MLLP handler answers with the header it read before parsing (MSH-10 empty, as sent);
    # the warning tells the sender which stand-in key was used.
    (ack,) = respond(peek_header(raw), raw, accepted=True, app_ok=True, warnings=m.warnings)
    assert ack.split("\r")[1] == "MSA|AA|"
    assert m.header.control_id in ack.split("\r")[2]
