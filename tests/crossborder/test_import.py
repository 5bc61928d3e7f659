"""POST /api/fhir/cross-border/Patient/{national_id}/$import: the HIE's record joins the
local MPI with its national identifier, and the next lab result naming that identifier in
PID-3 matches it (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.settings.labs import LabSettings
from resolvers.crossborder.countries import DEFAULT_PROFILES
from tests.crossborder.conftest import CrossBorder, cross_border_app
from tests.medplum.harness import MedplumServer

KE_SYSTEM = DEFAULT_PROFILES["KE"].identifier_system
URL = "/api/fhir/cross-border/Patient/"


def oru(national_id: str, control_id: str) -> str:
    # The laboratory names the Kenyan national id with its authority KE_NID, which the
    # operator maps to the HIE's national-id system (CARI_LAB_IDENTIFIER_SYSTEMS).
    return "\r".join([
        r"MSH|^~\&|LABSYS|CENTRAL_LAB|GATEWAY|DISTRICT_HOSP|20260115083000+0300||"
        rf"ORU^R01^ORU_R01|{control_id}|P|2.5|||AL|NE",
        rf"PID|1||{national_id}^^^KE_NID^NI||KAMAU^PETER||19850412|F",
        r"OBR|1|PLC1^GATEWAY|FIL1^LABSYS|24323-8^Comprehensive metabolic panel^LN|||"
        r"20260115071500|||||||||||||||20260115082500|||F",
        r"OBX|1|NM|2823-3^Potassium SerPl-sCnc^LN||4.1|mmol/L^mmol/L^UCUM|3.5-5.1|N|||F|||"
        r"20260115071500"]) + "\r"


@pytest.fixture
async def xb_labs(tmp_path: Path, database_url: str,
                  standins: dict[str, MedplumServer]) -> AsyncIterator[CrossBorder]:
    async with cross_border_app(
            tmp_path, database_url, standins,
            labs=LabSettings(identifier_systems=(("KE_NID", KE_SYSTEM),),
                             provisional_patients=True)) as found:
        yield found


async def audit_rows(xb: CrossBorder, request_id: str) -> list[dict[str, Any]]:
    page = await xb.h.client.get("/api/admin/audit-events?limit=200",
                                 headers=xb.h.auth("admin"))
    return [r for r in page.json()["data"]["items"] if r["request_id"] == request_id]


@pytest.mark.db
async def test_import_then_lab_result_matches(xb_labs: CrossBorder) -> None:
    xb = xb_labs
    response = await xb.h.client.post(URL + "23456789/$import?country=KE",
                                      headers=xb.h.auth("clinician"))
    assert response.status_code == 201, response.text
    parameters = {p["name"]: p for p in response.json()["parameter"]}
    assert parameters["outcome"]["valueCode"] == "created"
    local_id = parameters["patient"]["valueReference"]["reference"].removeprefix("Patient/")
    assert response.headers["location"].endswith(f"/api/fhir/Patient/{local_id}")
    assert parameters["source"]["valueUri"] == f"{xb.proxies['KE'].base_url}/fhir/R4"

    patient = (await xb.h.client.get(f"/api/patients/{local_id}",
                                     headers=xb.h.auth("clinician"))).json()["data"]
    assert {"system": KE_SYSTEM, "value": "23456789"} in patient["identifiers"]
    assert patient["family"] == "Kamau"

    rows = await audit_rows(xb, response.headers["x-request-id"])
    kinds = {(r["resource_type"], r["action"], r["patient_id"]) for r in rows}
    assert ("CrossBorderPatient", "R", "23456789") in kinds  # the lookup
    assert ("CrossBorderPatient", "E", local_id) in kinds  # the link
    assert ("Patient", "C", local_id) in kinds  # the MPI registration

    ingest = await xb.h.client.post(
        "/api/lab/hl7-ingest", content=oru("23456789", "XB-LAB-1").encode(),
        headers={**xb.h.auth("lab"), "Content-Type": "text/plain"})
    assert ingest.status_code == 200, ingest.text
    data = ingest.json()["data"]
    assert (data["patient_matched"], data["patient_id"]) == (True, local_id), data

    again = await xb.h.client.post(URL + "23456789/$import?country=KE",
                                   headers=xb.h.auth("integrator"))
    assert again.status_code == 200, again.text
    parameters = {p["name"]: p for p in again.json()["parameter"]}
    assert parameters["outcome"]["valueCode"] == "matched"
    assert parameters["patient"]["valueReference"]["reference"] == f"Patient/{local_id}"


async def test_import_refusals(xb: CrossBorder) -> None:
    async def post(path: str, role: str = "clinician") -> Any:
        return await xb.h.client.post(URL + path, headers=xb.h.auth(role))

    assert (await post("00000000/$import?country=KE")).status_code == 404
    unknown = await post("23456789/$import?country=XX")
    assert unknown.status_code == 400 and "KE" in unknown.text
    assert (await post("23456789/$import?country=KE,UG")).status_code == 400
    assert (await post("23456789/$import")).status_code == 400
    assert (await post("23456789/$import?country=KE", "billing")).status_code == 403
    xb.proxies["KE"].set("status", status=503)
    assert (await post("23456789/$import?country=KE")).status_code == 502
    search = await xb.h.client.get(f"/api/patients?identifier={KE_SYSTEM}|23456789",
                                   headers=xb.h.auth("clinician"))
    assert search.json()["data"]["items"] == [], "nothing was registered"
