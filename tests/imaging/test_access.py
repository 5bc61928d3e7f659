"""POST /api/clinical/dicom/access against a real Orthanc: the documented example, the
ImagingStudy, and refusals (another patient's study, an unknown one, the PACS down)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from adapters.fhir.validator import FhirValidator
from tests.imaging.conftest import Imaging, pacs_settings, patient_with_study
from tests.imaging.dicom_files import DOCUMENTED_STUDY
from tests.imaging.orthanc import Orthanc
from tests.support import ROOT, Harness, running_app

# "DICOM Imaging" in ../shared/reference/product-docs.md, exactly as written there;
# "patient-uuid" stands for a patient's id, which the test puts in its place.
DOCUMENTED_ACCESS = """{
  "study_uid": "1.2.840.113619.2.55.3.604688119",
  "patient_id": "patient-uuid"
}"""


def test_the_example_is_the_one_in_the_product_documentation() -> None:
    docs = (ROOT.parent / "shared" / "reference" / "product-docs.md").read_text(encoding="utf-8")
    assert f"POST /api/clinical/dicom/access\nAuthorization: Bearer v4.public.eyJ...\n" \
           f"Content-Type: application/json\n\n{DOCUMENTED_ACCESS}" in docs


async def _rows(h: Harness, request_id: str) -> list[dict[str, Any]]:
    page = await h.client.get("/api/admin/audit-events?limit=200", headers=h.auth("admin"))
    return [r for r in page.json()["data"]["items"] if r["request_id"] == request_id]


async def test_documented_access_answers_a_viewer_url_and_a_valid_imaging_study(
        imaging: Imaging) -> None:
    h = imaging.h
    patient_id, study = await patient_with_study(h, imaging.orthanc, DOCUMENTED_STUDY)
    answer = await h.client.post(
        "/api/clinical/dicom/access",
        content=DOCUMENTED_ACCESS.replace("patient-uuid", patient_id).encode(),
        headers={**h.auth("clinician"), "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["study_uid"] == DOCUMENTED_STUDY and data["patient_id"] == patient_id
    assert data["dicomweb_root"].startswith(
        f"{h.settings.public_base_url}/api/clinical/dicom/viewer/v4.local.")
    assert data["dicomweb_root"].endswith("/dicomweb")
    assert "StudyInstanceUIDs=" + DOCUMENTED_STUDY in data["viewer_url"]
    resource = data["imaging_study"]
    assert FhirValidator().validate(resource) == []
    assert resource["subject"] == {"reference": f"Patient/{patient_id}"}
    assert resource["identifier"][0]["value"] == f"urn:oid:{DOCUMENTED_STUDY}"
    assert (resource["numberOfSeries"], resource["numberOfInstances"]) == (2, 5)
    assert [m["code"] for m in resource["modality"]] == ["CT", "MR"]
    assert [(s["uid"], s["modality"]["code"], s["numberOfInstances"]) for s in resource["series"]] \
        == [(study.series("CT")[0].series_uid, "CT", 3), (study.series("MR")[0].series_uid, "MR", 2)]
    [row] = [r for r in await _rows(h, answer.headers["x-request-id"])
             if r["resource_type"] == "ImagingStudy"]
    assert (row["outcome"], row["resource_id"], row["patient_id"]) == (
        "success", DOCUMENTED_STUDY, patient_id)
    assert answer.headers["cache-control"] == "private, no-store"


async def test_another_patients_study_is_answered_as_missing_and_audited_denied(
        imaging: Imaging) -> None:
    other_patient, _ = await patient_with_study(imaging.h, imaging.orthanc)
    answer = await imaging.access(patient_id=other_patient)
    assert answer.status_code == 404, answer.text
    assert "dicomweb_root" not in answer.text
    rows = await _rows(imaging.h, answer.headers["x-request-id"])
    assert [(r["outcome"], r["patient_id"]) for r in rows
            if r["resource_type"] == "ImagingStudy"] == [("denied", other_patient)]


async def test_an_unknown_study_or_patient_is_404(imaging: Imaging) -> None:
    assert (await imaging.access(study_uid="1.2.3.4.5.6.7")).status_code == 404
    assert (await imaging.access(patient_id="no-such-patient")).status_code == 404


async def test_access_needs_the_clinician_role_and_a_valid_body(imaging: Imaging) -> None:
    assert (await imaging.access(role="billing")).status_code == 403
    bad = await imaging.h.client.post("/api/clinical/dicom/access", json={
        "study_uid": "1.2.x", "patient_id": imaging.patient_id},
        headers=imaging.h.auth("clinician"))
    assert bad.status_code == 422
    assert [d["field"] for d in bad.json()["error"]["details"]] == ["study_uid"]


async def test_the_pacs_down_answers_502_with_a_clear_message(
        tmp_path: Path, sqlite_url: str) -> None:
    async with running_app(pacs_settings(tmp_path / "var", sqlite_url, None)) as h:
        patient = await h.create_patient(identifiers=[{"system": "urn:x", "value": "1"}])
        answer = await h.client.post("/api/clinical/dicom/access", json={
            "study_uid": "1.2.3", "patient_id": patient["id"]}, headers=h.auth("clinician"))
        assert answer.status_code == 502, answer.text
        error = answer.json()["error"]
        assert error["code"] == "bad_gateway" and "PACS" in error["message"]
        rows = await _rows(h, answer.headers["x-request-id"])
        assert ("failure", patient["id"]) in [(r["outcome"], r["patient_id"]) for r in rows]


async def test_a_slow_pacs_times_out_with_502(tmp_path: Path, sqlite_url: str) -> None:
    """A PACS that accepts the connection and never answers: 502 once the timeout passes."""
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = pacs_settings(tmp_path / "var", sqlite_url, None)
    settings = replace(settings, outbound_allowlist=(f"127.0.0.1:{port}",), pacs=replace(
        settings.pacs, base_url=f"http://127.0.0.1:{port}/dicom-web", timeout_seconds=0.5))
    try:
        async with running_app(settings) as h:
            patient = await h.create_patient()
            started = time.monotonic()
            answer = await h.client.post("/api/clinical/dicom/access", json={
                "study_uid": "1.2.3", "patient_id": patient["id"]}, headers=h.auth("clinician"))
            assert answer.status_code == 502, answer.text
            assert "did not answer within 0.5 s" in answer.json()["error"]["message"]
            assert time.monotonic() - started < 5
    finally:
        server.close()


async def test_no_pacs_configured_answers_502(gateway: Harness) -> None:
    patient = await gateway.create_patient()
    answer = await gateway.client.post("/api/clinical/dicom/access", json={
        "study_uid": "1.2.3", "patient_id": patient["id"]}, headers=gateway.auth("clinician"))
    assert answer.status_code == 502
    assert "CARI_PACS_BASE_URL" in answer.json()["error"]["message"]


async def test_the_orthanc_fixture_serves_dicomweb(orthanc: Orthanc) -> None:
    assert orthanc.process is not None and orthanc.process.poll() is None
