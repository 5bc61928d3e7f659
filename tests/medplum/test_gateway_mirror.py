"""The whole gateway with Medplum configured: records written over REST reach the real
Medplum FHIR router through the outbox, and the MPI FHIR route reads Medplum's copy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.medplum.harness import CLIENT_ID, CLIENT_SECRET, MedplumServer
from tests.receiver import eventually
from tests.support import Harness, make_settings, running_app

pytestmark = pytest.mark.slow
FHIR = "application/fhir+json"


def _settings(tmp_path: Path, sqlite_url: str, medplum: MedplumServer):  # type: ignore[no-untyped-def]
    return replace(make_settings(tmp_path / "var", sqlite_url),
                   medplum_base_url=medplum.base_url, medplum_client_id=CLIENT_ID,
                   medplum_client_secret=CLIENT_SECRET, outbound_allowlist=("127.0.0.1",),
                   outbox_backoff_base_seconds=0.05, outbox_backoff_max_seconds=0.3,
                   # An outage outlasts ten quick retries on a busy machine: never a dead
                   # letter here, the test is about delay and recovery.
                   outbox_max_attempts=10_000, http_timeout_seconds=2.0)


async def _outbox(h: Harness, status: str) -> list[dict[str, Any]]:
    r = await h.client.get(f"/api/admin/outbox?status={status}&destination=medplum",
                           headers=h.auth("admin"))
    return list(r.json()["data"]["items"])


async def test_writes_are_mirrored_and_read_back_from_medplum(
    tmp_path: Path, sqlite_url: str, medplum: MedplumServer,
) -> None:
    async with running_app(_settings(tmp_path, sqlite_url, medplum)) as h:
        p = await h.create_patient(family="Kiprono")
        obs = await h.client.post("/api/fhir/Observation", json={
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
            "subject": {"reference": f"Patient/{p['id']}"}}, headers={
                **h.auth("clinician"), "Content-Type": FHIR})
        assert obs.status_code == 201
        await h.client.put(f"/api/patients/{p['id']}", json={
            "identifiers": p["identifiers"], "family": "Kiprono-Rotich"},
            headers=h.auth("clinician"))
        delivered = await eventually(lambda: _outbox(h, "delivered"), lambda d: len(d) == 3)
        assert {m["idempotency_key"].split("/_history/")[0] for m in delivered} == {
            f"fhir:Patient/{p['id']}", f"fhir:Observation/{obs.json()['id']}"}
        copies = await medplum.asearch("Patient")
        assert len(copies) == 1 and copies[0]["name"][0]["family"] == "Kiprono-Rotich"
        assert len(await medplum.asearch("Observation")) == 1

        served = await h.client.get(f"/api/mpi/patients/{p['id']}/fhir",
                                    headers=h.auth("clinician"))
        assert served.status_code == 200 and served.headers["x-cari-source"] == "medplum"
        assert served.json()["name"][0]["family"] == "Kiprono-Rotich"


async def test_outage_delays_the_mirror_and_reads_fall_back_to_the_local_copy(
    tmp_path: Path, sqlite_url: str, own_medplum: MedplumServer,
) -> None:
    async with running_app(_settings(tmp_path, sqlite_url, own_medplum)) as h:
        await own_medplum.astop()
        p = await h.create_patient(family="Abebe")
        served = await h.client.get(f"/api/mpi/patients/{p['id']}/fhir",
                                    headers=h.auth("clinician"))
        assert served.status_code == 200 and served.headers["x-cari-source"] == "local"
        failed = await eventually(lambda: _outbox(h, "pending"),
                                  lambda m: bool(m) and m[0]["attempts"] >= 2)
        assert failed[0]["last_error"]
        await own_medplum.astart()
        await eventually(lambda: _outbox(h, "delivered"), lambda d: len(d) == 1, timeout=20)
        copies = await own_medplum.asearch("Patient")
        assert len(copies) == 1 and copies[0]["name"][0]["family"] == "Abebe"
