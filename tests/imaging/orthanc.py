"""A real Orthanc with its DICOMweb plugin, started for the tests (Debian ``orthanc`` and
``orthanc-dicomweb``). A missing Orthanc fails the tests: it is never a skip."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import free_port

BINARY = "/usr/sbin/Orthanc"
PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
INSTALL = "apt-get install -y orthanc orthanc-dicomweb (`.ci/run` and `make test` do it)"


@dataclass
class Orthanc:
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    @property
    def wado(self) -> str:
        return f"{self.url}/wado"

    @property
    def address(self) -> str:  # for CARI_OUTBOUND_ALLOWLIST
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("Orthanc") or BINARY
        if not Path(binary).exists() or not Path(PLUGIN).exists():
            pytest.fail(f"Orthanc with its DICOMweb plugin is needed for tests/imaging: {INSTALL}",
                        pytrace=False)
        storage = self.directory / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "cari-test-pacs", "HttpPort": self.port, "DicomServerEnabled": False,
            "DicomPort": free_port(), "StorageDirectory": str(storage),
            "IndexDirectory": str(storage), "Plugins": [PLUGIN],
            "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
            "HttpDescribeErrors": True, "ConcurrentJobs": 1, "StableAge": 1,
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True,
                         "WadoRoot": "/wado", "Ssl": False, "StudiesMetadata": "Full",
                         "SeriesMetadata": "Full"},
        }
        path = self.directory / "orthanc.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        log = (self.directory / "orthanc.log").open("ab")
        self.process = subprocess.Popen([binary, str(path)], stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"Orthanc stopped at start; see {self.directory / 'orthanc.log'}",
                            pytrace=False)
            try:
                if httpx.get(f"{self.url}/system", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail("Orthanc did not answer /system within 30 s", pytrace=False)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def upload(self, *files: bytes) -> None:
        """Orthanc's REST POST /instances, one Part 10 file at a time."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            for data in files:
                answer = client.post("/instances", content=data,
                                     headers={"Content-Type": "application/dicom"})
                assert answer.status_code == 200, answer.text

    def delete_study(self, study_uid: str) -> None:
        """Forget a study (the documented UID is loaded by several tests, for several
        patients)."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            found = client.post("/tools/lookup", content=study_uid).json()
            for item in found:
                if item["Type"] == "Study":
                    assert client.delete(f"/studies/{item['ID']}").status_code == 200

    def series_of(self, study_uid: str) -> list[dict[str, object]]:
        answer = httpx.get(f"{self.dicomweb}/studies/{study_uid}/series", timeout=10)
        if answer.status_code == 204:
            return []
        assert answer.status_code == 200, answer.text
        found: list[dict[str, object]] = answer.json()
        return found


def started(directory: Path) -> Orthanc:
    orthanc = Orthanc(directory, free_port())
    orthanc.start()
    return orthanc
