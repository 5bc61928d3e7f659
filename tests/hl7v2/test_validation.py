"""validate_structure: the optional strict check (segment order + hl7apy)."""

from __future__ import annotations

from adapters.hl7v2.validation import validate_structure
from tests.hl7v2.messages import PID, WORKED_EXAMPLE, msh, obx, oru


def test_valid_messages_have_no_findings() -> None:
    assert validate_structure(WORKED_EXAMPLE) == []
    assert validate_structure(oru(10).encode()) == []
    assert validate_structure(oru(2, version="2.5.1")) == []


def test_segment_order_is_checked() -> None:
    findings = validate_structure("\r".join([msh(), PID, obx(1), "OBR|1|||P^Panel^L"]))
    assert findings == ["segment OBX (segment 3) is out of order: it cannot come after PID in "
                        "ORU_R01"]
    assert validate_structure("\r".join([msh(), PID])) == [
        "the message ends before a required segment (an OBR at least)",
        "Missing required child ORU_R01_PATIENT_RESULT.ORU_R01_ORDER_OBSERVATION"]


def test_unknown_segments_are_reported_and_z_segments_allowed() -> None:
    raw = "\r".join([msh(), PID, "OBR|1|||P^Panel^L", obx(1), "XYZ|1", "ZLB|local"])
    assert validate_structure(raw) == ["unknown segment 'XYZ' (segment 5)"]


def test_hl7apy_findings_cardinality_and_warnings() -> None:
    # hl7apy's 2.3 structure requires OBR-27 (quantity/timing), which the fast parser tolerates.
    assert validate_structure(oru(1, version="2.3", message_type="ORU^R01")) == [
        "Missing required child OBR.OBR_27"]
    warnings = validate_structure(WORKED_EXAMPLE, warnings=True)
    assert warnings and all(w.startswith("Warning: ") for w in warnings)


def test_unreadable_input() -> None:
    assert validate_structure("garbage") == ["the message must start with an MSH segment"]
