"""The product documentation's HL7 example, verbatim, over HTTP, GraphQL and MLLP; sender-scoped
PID-3; provisional patients; alerts on held results, acknowledgement, escalation, delivery."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from adapters.hl7v2.mllp import send_mllp
from adapters.settings.labs import LabSettings
from tests.support import ROOT, Harness, make_settings, running_app

# "Lab Result Ingestion" in ../shared/reference/product-docs.md, exactly as written there.
DOCUMENTED = """MSH|^~\\&|LAB_SYSTEM|FACILITY|CARI|CARI|20260415120000||ORU^R01|MSG001|P|2.5
PID|1||PAT001||DOE^JANE||19900315|F
OBR|1||ORD001|CBC^Complete Blood Count
OBX|1|NM|WBC^White Blood Cell Count||7.5|10*3/uL|4.5-11.0|N"""
FACILITY_SYSTEM = "urn:cari:lab:FACILITY:patient-id"  # PID-3 without authority: the sender's
CRITICAL = (
    "MSH|^~\\&|LIS|KNH_LAB|CARI|CARI|20260415120000||ORU^R01|{id}|P|2.5\r"
    "PID|1||{pid}||{name}||{birth}|F\r"
    "OBR|1||ORD9|BMP^Basic metabolic panel|||20260415110000|||||||||DR7^Kamau^Peter\r"
    "OBX|1|NM|2823-3^Potassium^LN||7.1|mmol/L|3.5-5.1|HH|||F")


def test_the_example_is_the_one_in_the_product_documentation() -> None:
    docs = ROOT.parent / "shared" / "reference" / "product-docs.md"
    assert DOCUMENTED in docs.read_text(encoding="utf-8")


def _text(h: Harness, role: str = "lab") -> dict[str, str]:
    return {**h.auth(role), "Content-Type": "text/plain"}


async def _ingest(h: Harness, message: str) -> Any:
    return await h.client.post("/api/lab/hl7-ingest", content=message.encode(), headers=_text(h))


async def test_documented_example_matched_answers_as_documented(gateway: Harness) -> None:
    patient = await gateway.create_patient(
        identifiers=[{"system": FACILITY_SYSTEM, "value": "PAT001"}], family="Doe",
        given=["Jane"], birth_date="1990-03-15", gender="female")
    r = await _ingest(gateway, DOCUMENTED)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    data = body["data"]
    assert data["patient_matched"] is True and data["patient_id"] == patient["id"]
    assert data["observations_created"] == 1 and re.fullmatch(r"[0-9a-f-]{36}",
                                                               data["lab_result_id"])
    assert any("OBX-11" in w["message"] for w in data["warnings"]), data["warnings"]
    items = (await gateway.client.get(f"/api/patients/{patient['id']}/lab-results",
                                      headers=gateway.auth("clinician"))).json()["data"]["items"]
    assert [(i["code"], i["numeric_value"], i["unit"], i["status"]) for i in items] == [
        ("WBC", 7.5, "10*3/uL", "final")]
    stored = (await gateway.client.get(f"/api/fhir/Observation/{items[0]['id']}",
                                       headers=gateway.auth("clinician"))).json()
    assert any("OBX-11" in n["text"] for n in stored["note"])  # the assumption is on record


async def test_documented_example_unmatched_creates_a_provisional_patient(
    gateway: Harness,
) -> None:
    data = (await _ingest(gateway, DOCUMENTED)).json()["data"]
    assert data["patient_matched"] is False and data["match_grade"] == "new"
    assert data["observations_created"] == 1
    pid = data["patient_id"]
    results = (await gateway.client.get(f"/api/patients/{pid}/lab-results",
                                        headers=gateway.auth("clinician"))).json()["data"]
    assert results["total"] == 1 and results["items"][0]["code"] == "WBC"
    fhir = (await gateway.client.get(f"/api/fhir/Patient/{pid}",
                                     headers=gateway.auth("clinician"))).json()
    assert fhir["meta"]["tag"][0]["code"] == "provisional"
    assert fhir["meta"]["source"] == "urn:cari:lab:FACILITY"
    assert fhir["identifier"] == [{"system": FACILITY_SYSTEM, "value": "PAT001"}]
    assert (fhir["name"][0]["family"], fhir["birthDate"], fhir["gender"]) == (
        "DOE", "1990-03-15", "female")
    links = (await gateway.client.get(f"/api/mpi/links?patient_id={pid}",
                                      headers=gateway.auth("clinician"))).json()["data"]["items"]
    assert [(k["grade"], k["method"]) for k in links] == [("new", "auto")]
    # The laboratory's next result for PAT001 finds that patient: one patient, not two.
    second = (await _ingest(gateway, DOCUMENTED.replace("MSG001", "MSG002")
                            .replace("ORD001", "ORD002"))).json()["data"]
    assert second["patient_matched"] is True and second["patient_id"] == pid


async def test_the_same_pid3_from_another_laboratory_is_another_patient(
    gateway: Harness,
) -> None:
    first = (await _ingest(gateway, DOCUMENTED)).json()["data"]
    other = DOCUMENTED.replace("|FACILITY|", "|OTHER_LAB|").replace("DOE^JANE", "OTIENO^ACHIENG")
    second = (await _ingest(gateway, other.replace("19900315|F", "19750101|F"))).json()["data"]
    assert second["patient_id"] != first["patient_id"] and second["match_grade"] == "new"


async def test_the_sender_table_names_the_identifier_system(
    tmp_path: Path, sqlite_url: str,
) -> None:
    labs = LabSettings(identifier_systems=(("facility", "urn:oid:2.16.404.1.7"),))
    async with running_app(make_settings(tmp_path / "var", sqlite_url, labs=labs)) as h:
        patient = await h.create_patient(
            identifiers=[{"system": "urn:oid:2.16.404.1.7", "value": "PAT001"}],
            family="Doe", given=["Jane"])
        data = (await _ingest(h, DOCUMENTED)).json()["data"]
        assert data["patient_matched"] is True and data["patient_id"] == patient["id"]


async def test_documented_example_over_graphql(gateway: Harness) -> None:
    query = """mutation($m: String!) { ingestHl7(message: $m) {
        __typename ... on IngestResult { patientMatched patientId observationsCreated matchGrade
        warnings { location message } } } }"""
    body = await gateway.gql(query, {"m": DOCUMENTED}, roles=("lab",))
    result = body["data"]["ingestHl7"]
    assert result["__typename"] == "IngestResult" and result["observationsCreated"] == 1
    assert result["patientMatched"] is False and result["matchGrade"] == "new"
    assert any(w["location"].startswith("OBX") for w in result["warnings"])
    patient = await gateway.create_patient(
        identifiers=[{"system": FACILITY_SYSTEM, "value": "PAT009"}], family="Doe")
    body = await gateway.gql(query, {"m": DOCUMENTED.replace("PAT001", "PAT009").replace(
        "MSG001", "MSG009").replace("ORD001", "ORD009")}, roles=("lab",))
    assert body["data"]["ingestHl7"]["patientId"] == patient["id"]
    assert body["data"]["ingestHl7"]["patientMatched"] is True


def _segments(ack: bytes) -> list[list[str]]:
    return [s.split("|") for s in ack.decode().replace("\n", "\r").split("\r") if s]


async def test_documented_example_over_mllp_matched_and_unmatched(mllp_gateway: Harness) -> None:
    h = mllp_gateway
    (ack,) = await send_mllp("127.0.0.1", h.settings.mllp_port, DOCUMENTED)
    segments = _segments(ack)
    msa = next(s for s in segments if s[0] == "MSA")
    assert msa[1:3] == ["AA", "MSG001"]
    warnings = [s for s in segments if s[0] == "ERR"]
    assert warnings and all(s[4] == "W" for s in warnings)  # accepted, with what was assumed
    provisional = (await h.client.get("/api/patients", headers=h.auth("clinician"))
                   ).json()["data"]["items"]
    assert len(provisional) == 1
    patient = await h.create_patient(
        identifiers=[{"system": FACILITY_SYSTEM, "value": "PAT777"}], family="Doe")
    (ack,) = await send_mllp("127.0.0.1", h.settings.mllp_port, DOCUMENTED.replace(
        "PAT001", "PAT777").replace("MSG001", "MSG777").replace("ORD001", "ORD777"))
    assert next(s for s in _segments(ack) if s[0] == "MSA")[1] == "AA"
    results = (await h.client.get(f"/api/patients/{patient['id']}/lab-results",
                                  headers=h.auth("clinician"))).json()["data"]
    assert results["total"] == 1  # stored for the known patient before the ACK was written
