"""The MLLP surface with a real MLLP client over TCP: ACKs after commit, in both modes."""

from __future__ import annotations

from adapters.hl7v2.mllp import send_mllp
from tests.api.test_lab_ingest import NATID, WORKED_EXAMPLE
from tests.support import Harness


def _msa(ack: bytes) -> list[str]:
    segments = ack.decode().replace("\n", "\r").split("\r")
    return next(s for s in segments if s.startswith("MSA")).split("|")


async def _send(h: Harness, message: str) -> list[bytes]:
    return await send_mllp("127.0.0.1", h.settings.mllp_port, message)


async def test_enhanced_mode_commit_ack_after_storage(mllp_gateway: Harness) -> None:
    h = mllp_gateway
    patient = await h.create_patient(identifiers=[{"system": NATID, "value": "NID9988"}])
    (ack,) = await _send(h, WORKED_EXAMPLE)  # MSH-15 AL, MSH-16 NE: one commit ACK
    assert _msa(ack)[1:3] == ["CA", "LAB000123"]
    assert b"ACK^R01^ACK" in ack and b"|CENTRAL_LAB|" in ack
    results = await h.client.get(f"/api/patients/{patient['id']}/lab-results",
                                 headers=h.auth("clinician"))
    assert results.json()["data"]["total"] == 2  # stored before the ACK was written
    (again,) = await _send(h, WORKED_EXAMPLE)
    assert _msa(again)[1] == "CA"
    results = await h.client.get(f"/api/patients/{patient['id']}/lab-results",
                                 headers=h.auth("clinician"))
    assert results.json()["data"]["total"] == 2  # the repeat created nothing


async def test_original_mode_and_errors(mllp_gateway: Harness) -> None:
    h = mllp_gateway
    original = WORKED_EXAMPLE.replace("|P|2.5|||AL|NE", "|P|2.5")
    (ack,) = await _send(h, original)
    assert _msa(ack)[1] == "AA"
    (ack,) = await _send(h, original.replace("ORU^R01^ORU_R01", "ADT^A01^ADT_A01")
                         .replace("LAB000123", "LAB9"))
    assert _msa(ack)[1] == "AR" and b"200^Unsupported message type" in ack
    assert b"ADT\\S\\A01" in ack  # the type named in ERR-8, HL7-escaped
    no_id = original.replace("MRN4455^^^DISTRICT_HOSP&2.16.840.1.113883.19.5&ISO^MR~NID9988^^^"
                             "NATID&1.3.6.1.4.1.9999.1&ISO^NI", "").replace("LAB000123", "LAB10")
    (ack,) = await _send(h, no_id)
    assert _msa(ack)[1] == "AE"
    err = next(s for s in ack.decode().split("\r") if s.startswith("ERR"))
    assert "PID^1^3" in err and "101" in err
