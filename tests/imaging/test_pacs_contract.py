"""One suite, two PACS adapters: DICOMweb against the real Orthanc, and the in-memory twin
loaded with what Orthanc holds. Both find a study with its series, answer None for an
unknown one, give instance metadata, and raise PacsUnavailable when down."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from adapters.dicom.dicomweb import DicomwebPacs
from adapters.dicom.memory import InMemoryPacs
from adapters.http.outbound import OutboundPolicy, build_http_client
from resolvers.imaging.errors import PacsUnavailable
from resolvers.imaging.ports import Pacs, PacsRequest
from tests.imaging.dicom_files import Study, make_study
from tests.imaging.orthanc import Orthanc


@dataclass
class Subject:
    pacs: Pacs
    study: Study
    down: Pacs  # the same adapter with its PACS unreachable


@pytest.fixture(params=["dicomweb", "memory"])
async def subject(request: pytest.FixtureRequest, orthanc: Orthanc) -> AsyncIterator[Subject]:
    study = make_study("CONTRACT-1")
    orthanc.upload(*(i.data for i in study.instances))
    policy = OutboundPolicy([orthanc.address, "127.0.0.1:9"])
    async with build_http_client(policy, 5) as client:
        real = DicomwebPacs(orthanc.dicomweb, client, policy, wado_uri_url=orthanc.wado,
                            timeout_seconds=5)
        if request.param == "dicomweb":
            yield Subject(real, study, DicomwebPacs("http://127.0.0.1:9/dicom-web", client,
                                                    policy, timeout_seconds=2))
            return
        twin = InMemoryPacs()
        summary = await real.find_study(study.study_uid)
        assert summary is not None
        metadata = {(i.series_uid, i.instance_uid): await real.instance_metadata(
            study.study_uid, i.series_uid, i.instance_uid) or {} for i in study.instances}
        twin.add(summary, metadata)
        down = InMemoryPacs()
        down.down = True
        yield Subject(twin, study, down)


async def test_a_study_is_found_with_its_series(subject: Subject) -> None:
    found = await subject.pacs.find_study(subject.study.study_uid)
    assert found is not None
    assert found.pacs_patient_id == "CONTRACT-1"
    assert found.modalities == ("CT", "MR")
    assert [(s.modality, s.instances, s.number) for s in found.series] == [
        ("CT", 3, 1), ("MR", 2, 2)]
    assert found.started is not None and found.started.isoformat().startswith("2026-12-01T10:15")
    assert found.accession_number == "ACC-1"


async def test_an_unknown_study_is_none(subject: Subject) -> None:
    assert await subject.pacs.find_study("1.2.3.999999") is None


async def test_instance_metadata_and_a_missing_instance(subject: Subject) -> None:
    i = subject.study.instances[0]
    metadata = await subject.pacs.instance_metadata(subject.study.study_uid, i.series_uid,
                                                    i.instance_uid)
    assert metadata is not None and metadata["00080018"]["Value"] == [i.instance_uid]
    assert await subject.pacs.instance_metadata(subject.study.study_uid, i.series_uid,
                                                "1.2.3.4") is None


async def test_metadata_is_fetched_as_dicom_json(subject: Subject) -> None:
    i = subject.study.instances[0]
    path = f"studies/{subject.study.study_uid}/series/{i.series_uid}/instances/{i.instance_uid}"
    async with subject.pacs.fetch(PacsRequest(path=f"{path}/metadata",
                                              public_root="http://gw/dicomweb")) as answer:
        assert answer.status == 200 and "json" in (answer.content_type or "")
        body = b"".join([c async for c in answer.chunks()])
    assert json.loads(body)[0]["00080018"]["Value"] == [i.instance_uid]


async def test_a_pacs_that_is_down_raises_pacs_unavailable(subject: Subject) -> None:
    with pytest.raises(PacsUnavailable):
        await subject.down.find_study(subject.study.study_uid)
    with pytest.raises(PacsUnavailable):
        async with subject.down.fetch(PacsRequest(path="studies")):
            pass


async def test_a_pacs_off_the_allow_list_is_refused(orthanc: Orthanc) -> None:
    policy = OutboundPolicy([])  # loopback is not allowed unless listed
    async with httpx.AsyncClient() as client:
        pacs = DicomwebPacs(orthanc.dicomweb, client, policy)
        with pytest.raises(PacsUnavailable, match="may not be reached"):
            await pacs.find_study("1.2.3")
