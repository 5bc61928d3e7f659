"""Fixtures of the imaging tests: one Orthanc for the session, and gateways that use it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from adapters.settings import Settings
from adapters.settings.pacs import PacsSettings
from resolvers.imaging.model import PatientIdSystem
from tests.imaging.dicom_files import Study, make_study
from tests.imaging.orthanc import Orthanc, started
from tests.support import Harness, make_settings, running_app

PACS_MRN = "urn:cari:test:pacs-mrn"  # the MPI identifier system whose values are PatientIDs


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    server = started(tmp_path_factory.mktemp("orthanc"))
    try:
        yield server
    finally:
        server.stop()


def pacs_settings(data_dir: Path, database_url: str, orthanc: Orthanc | None,
                  **pacs: Any) -> Settings:
    """A gateway whose PACS is ``orthanc`` (None: a closed loopback port, a PACS that is
    down), with the loopback port on the outbound allow-list."""
    base = orthanc.dicomweb if orthanc else "http://127.0.0.1:9/dicom-web"
    wado = orthanc.wado if orthanc else "http://127.0.0.1:9/wado"
    settings = make_settings(data_dir, database_url, outbound_allowlist=(
        orthanc.address if orthanc else "127.0.0.1:9",))
    return replace(settings, pacs=replace(
        PacsSettings(base_url=base, wado_uri_url=wado, timeout_seconds=5,
                     patient_id_systems=(PatientIdSystem(PACS_MRN),)), **pacs))


@dataclass
class Imaging:
    """A gateway on the test Orthanc, a patient, and that patient's study in the PACS."""

    h: Harness
    orthanc: Orthanc
    patient_id: str
    study: Study

    async def access(self, study_uid: str | None = None, patient_id: str | None = None,
                     role: str = "clinician") -> Any:
        return await self.h.client.post("/api/clinical/dicom/access", json={
            "study_uid": study_uid or self.study.study_uid,
            "patient_id": patient_id or self.patient_id}, headers=self.h.auth(role))

    async def token(self) -> str:
        answer = await self.access()
        assert answer.status_code == 200, answer.text
        root: str = answer.json()["data"]["dicomweb_root"]
        return root.rsplit("/", 2)[-2]


async def patient_with_study(h: Harness, orthanc: Orthanc, study_uid: str | None = None,
                             **study: Any) -> tuple[str, Study]:
    mrn = f"MRN-{uuid.uuid4().hex[:10]}"
    patient = await h.create_patient(identifiers=[{"system": PACS_MRN, "value": mrn}])
    built = make_study(mrn, study_uid, **study)
    if study_uid:  # a fixed UID (the documented one) may be there for another patient
        orthanc.delete_study(study_uid)
    orthanc.upload(*(i.data for i in built.instances))
    return patient["id"], built


@contextlib.asynccontextmanager
async def imaging_gateway(tmp_path: Path, database_url: str, orthanc: Orthanc,
                          **pacs: Any) -> AsyncIterator[Imaging]:
    settings = pacs_settings(tmp_path / "var", database_url, orthanc, **pacs)
    async with running_app(settings) as h:
        patient_id, study = await patient_with_study(h, orthanc)
        yield Imaging(h, orthanc, patient_id, study)


@pytest.fixture
async def imaging(tmp_path: Path, sqlite_url: str, orthanc: Orthanc) -> AsyncIterator[Imaging]:
    async with imaging_gateway(tmp_path, sqlite_url, orthanc) as found:
        yield found


@pytest.fixture
async def imaging_any_db(tmp_path: Path, database_url: str,
                         orthanc: Orthanc) -> AsyncIterator[Imaging]:
    async with imaging_gateway(tmp_path, database_url, orthanc) as found:
        yield found
