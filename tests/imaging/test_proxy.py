"""The viewer's way in, as a viewer uses it: dicomweb-client on the proxied DICOMweb root of
a gateway served over HTTP, against a real Orthanc. A token reaches its study only, expires,
and its use is audited once per series, not once per frame."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient

from adapters.dicom.viewer_tokens import PasetoViewerTokens, load_or_create_viewer_key
from resolvers.imaging.model import ViewerGrant
from tests.imaging.conftest import Imaging, pacs_settings, patient_with_study
from tests.imaging.orthanc import Orthanc
from tests.support import Harness, free_port, running_app, serving_app


@dataclass
class Served:
    imaging: Imaging
    base_url: str
    root: str  # the proxied DICOMweb root of the patient's study
    token: str


@pytest.fixture
async def served(tmp_path: Path, sqlite_url: str, orthanc: Orthanc) -> AsyncIterator[Served]:
    port = free_port()
    settings = replace(pacs_settings(tmp_path / "var", sqlite_url, orthanc),
                       public_base_url=f"http://127.0.0.1:{port}")
    async with running_app(settings) as h, serving_app(h.app, port=port) as base_url:
        patient_id, study = await patient_with_study(h, orthanc)
        imaging = Imaging(h, orthanc, patient_id, study)
        answer = await imaging.access()
        assert answer.status_code == 200, answer.text
        root = answer.json()["data"]["dicomweb_root"]
        yield Served(imaging, base_url, root, root.rsplit("/", 2)[-2])


def _viewer(root: str) -> DICOMwebClient:
    return DICOMwebClient(root)


async def _rows(h: Harness) -> list[dict[str, Any]]:
    page = await h.client.get("/api/admin/audit-events?limit=200", headers=h.auth("admin"))
    return [r for r in page.json()["data"]["items"] if r["surface"] == "viewer"]


async def test_a_viewer_reads_the_study_through_the_proxy_with_dicomweb_client(
        served: Served) -> None:
    study = served.imaging.study
    viewer = _viewer(served.root)
    found = await asyncio.to_thread(viewer.search_for_studies)
    assert [s["0020000D"]["Value"][0] for s in found] == [study.study_uid]
    series = await asyncio.to_thread(viewer.search_for_series, study.study_uid)
    assert {s["0020000E"]["Value"][0] for s in series} == {i.series_uid for i in study.instances}
    ct = study.series("CT")
    instances = await asyncio.to_thread(viewer.search_for_instances, study.study_uid,
                                        ct[0].series_uid)
    assert {i["00080018"]["Value"][0] for i in instances} == {i.instance_uid for i in ct}
    metadata = await asyncio.to_thread(viewer.retrieve_study_metadata, study.study_uid)
    assert len(metadata) == 5
    instance = await asyncio.to_thread(viewer.retrieve_instance, study.study_uid,
                                       ct[0].series_uid, ct[0].instance_uid)
    original = pydicom.dcmread(io.BytesIO(ct[0].data))
    assert instance.SOPInstanceUID == ct[0].instance_uid
    assert instance.PixelData == original.PixelData
    # Any transfer syntax, as viewers ask (dicomweb-client's default Accept for frames names
    # one that Orthanc 1.10 refuses with a 400, directly as through the proxy).
    [frame] = await asyncio.to_thread(viewer.retrieve_instance_frames, study.study_uid,
                                      ct[0].series_uid, ct[0].instance_uid, [1],
                                      media_types=(("application/octet-stream", "*"),))
    assert frame == original.PixelData


async def test_the_pacs_is_never_shown_to_the_viewer(served: Served) -> None:
    study = served.imaging.study
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{served.root}/studies/{study.study_uid}/metadata")
        series = await client.get(f"{served.root}/studies/{study.study_uid}/series")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/dicom+json")
    for text in (answer.text, series.text):
        assert served.imaging.orthanc.url not in text
    assert served.root in answer.text  # BulkDataURIs point back at the proxy


async def test_wado_rs_answers_are_streamed_multipart(served: Served) -> None:
    study = served.imaging.study
    mr = study.series("MR")[0]
    async with httpx.AsyncClient() as client, client.stream(
            "GET", f"{served.root}/studies/{study.study_uid}/series/{mr.series_uid}",
            headers={"Accept": 'multipart/related; type="application/dicom"'}) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("multipart/related")
        body = b"".join([chunk async for chunk in answer.aiter_bytes()])
    assert body.count(b"Content-Type: application/dicom") == 2


async def test_wado_uri_serves_an_instance_of_the_tokens_study_only(served: Served) -> None:
    study = served.imaging.study
    ct = study.series("CT")[1]
    wado = f"{served.base_url}/api/clinical/dicom/viewer/{served.token}/wado"
    query = {"requestType": "WADO", "studyUID": study.study_uid, "seriesUID": ct.series_uid,
             "objectUID": ct.instance_uid, "contentType": "application/dicom"}
    async with httpx.AsyncClient() as client:
        answer = await client.get(wado, params=query)
        other = await client.get(wado, params={**query, "studyUID": "1.2.3.4"})
    assert answer.status_code == 200, answer.text
    assert pydicom.dcmread(io.BytesIO(answer.content)).SOPInstanceUID == ct.instance_uid
    assert other.status_code == 403


async def test_a_token_for_one_study_cannot_fetch_another(served: Served) -> None:
    h = served.imaging.h
    _, other = await patient_with_study(h, served.imaging.orthanc)
    async with httpx.AsyncClient() as client:
        asked = await client.get(f"{served.root}/studies/{other.study_uid}/metadata")
        series = other.instances[0]
        frame = await client.get(
            f"{served.root}/studies/{other.study_uid}/series/{series.series_uid}/instances/"
            f"{series.instance_uid}/frames/1")
        searched = await client.get(f"{served.root}/studies",
                                    params={"StudyInstanceUID": other.study_uid})
        escaped = await client.get(f"{served.root}/studies/{served.imaging.study.study_uid}"
                                   "/series/..%2F..%2Finstances")
    assert (asked.status_code, frame.status_code) == (403, 403)
    assert asked.json()["error"]["code"] == "forbidden"
    # QIDO is confined to the token's study whatever the viewer asks for.
    assert [s["0020000D"]["Value"][0] for s in searched.json()] == [
        served.imaging.study.study_uid]
    assert escaped.status_code == 404
    denied = [r for r in await _rows(h) if r["outcome"] == "denied"]
    assert {r["resource_id"] for r in denied} == {other.study_uid}


async def test_an_expired_or_forged_token_is_refused(served: Served) -> None:
    h = served.imaging.h
    key = load_or_create_viewer_key(h.settings.data_dir)
    study = served.imaging.study
    expired = PasetoViewerTokens(key).issue(ViewerGrant(
        token_id="t-expired", study_uid=study.study_uid, patient_id=served.imaging.patient_id,
        subject="tester", expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    forged = served.token[:-12] + ("A" * 12)
    async with httpx.AsyncClient() as client:
        for token in (expired, forged, "v4.public.nope"):
            answer = await client.get(f"{served.base_url}/api/clinical/dicom/viewer/{token}"
                                      f"/dicomweb/studies/{study.study_uid}/metadata")
            assert answer.status_code == 403, (token, answer.text)
        fresh = await client.get(f"{served.root}/studies/{study.study_uid}/metadata")
    assert fresh.status_code == 200


async def test_token_use_is_audited_once_per_series_not_per_frame(served: Served) -> None:
    h = served.imaging.h
    study = served.imaging.study
    async with httpx.AsyncClient() as client:
        for instance in study.instances:  # five frames, two series
            answer = await client.get(
                f"{served.root}/studies/{study.study_uid}/series/{instance.series_uid}/"
                f"instances/{instance.instance_uid}/frames/1")
            assert answer.status_code == 200
        await client.get(f"{served.root}/studies/{study.study_uid}/metadata")
        await client.get(f"{served.root}/studies/{study.study_uid}/metadata")
    rows = [r for r in await _rows(h) if r["outcome"] == "success"]
    assert sorted((r["resource_type"], r["resource_id"]) for r in rows) == sorted(
        [("ImagingStudy", study.study_uid)]
        + [("ImagingSeries", s) for s in {i.series_uid for i in study.instances}])
    assert {(r["subject"], r["patient_id"]) for r in rows} == {
        ("tester", served.imaging.patient_id)}


async def test_the_ohif_data_source_points_at_the_proxy(served: Served) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{served.base_url}/api/clinical/dicom/viewer/"
                                  f"{served.token}/ohif-datasource.json")
        refused = await client.get(f"{served.base_url}/api/clinical/dicom/viewer/"
                                   "v4.local.nope/ohif-datasource.json")
    [server] = answer.json()["servers"]["dicomWeb"]
    assert server["wadoRoot"] == server["qidoRoot"] == served.root
    assert refused.status_code == 403
