"""Deletes reach Medplum: a FHIR delete and an MPI link undo remove Medplum's copies, and an
upsert overtaken by its delete cannot bring a record back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.medplum.mirror import FHIR_DELETE, FHIR_UPSERT, MedplumMirror
from resolvers.outbox.model import OutboxMessage, OutboxStatus
from tests.api.test_lab_ingest import WORKED_EXAMPLE, _ingest, _known_patient
from tests.medplum.conftest import make_client
from tests.medplum.harness import MedplumServer
from tests.medplum.test_gateway_mirror import FHIR, _outbox, _settings
from tests.receiver import eventually
from tests.support import running_app

pytestmark = pytest.mark.slow


def _message(payload: dict[str, Any], key: str) -> OutboxMessage:
    now = datetime.now(UTC)
    return OutboxMessage(id=key, destination="medplum", payload=payload, idempotency_key=key,
                         status=OutboxStatus.IN_FLIGHT, attempts=0, next_attempt_at=now,
                         created_at=now, last_error=None, delivered_at=None)


async def test_a_fhir_delete_and_a_link_undo_remove_medplum_copies(
    tmp_path: Path, sqlite_url: str, medplum: MedplumServer,
) -> None:
    async with running_app(_settings(tmp_path, sqlite_url, medplum)) as h:
        before = len(await medplum.asearch("Observation"))
        patient = await _known_patient(h)
        obs = await h.client.post("/api/fhir/Observation", json={
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
            "subject": {"reference": f"Patient/{patient['id']}"}},
            headers={**h.auth("clinician"), "Content-Type": FHIR})
        assert obs.status_code == 201
        await eventually(lambda: medplum.asearch("Observation"), lambda f: len(f) == before + 1)
        gone = await h.client.delete(f"/api/fhir/Observation/{obs.json()['id']}",
                                     headers=h.auth("clinician"))
        assert gone.status_code in (200, 204)
        await eventually(lambda: medplum.asearch("Observation"), lambda f: len(f) == before)

        # A lab result auto-linked to a patient, mirrored, then unlinked: Medplum drops it.
        reports = len(await medplum.asearch("DiagnosticReport"))
        ingest = (await _ingest(h, WORKED_EXAMPLE)).json()["data"]
        assert ingest["patient_id"] == patient["id"]
        await eventually(lambda: medplum.asearch("Observation"),
                         lambda f: len(f) == before + 2)
        await eventually(lambda: medplum.asearch("DiagnosticReport"),
                         lambda f: len(f) == reports + 1)
        [link] = (await h.client.get(f"/api/mpi/links?patient_id={patient['id']}",
                                     headers=h.auth("clinician"))).json()["data"]["items"]
        undo = await h.client.post(f"/api/mpi/links/{link['id']}/undo",
                                   json={"reason": "wrong patient"},
                                   headers=h.auth("clinician"))
        assert undo.status_code == 200
        await eventually(lambda: medplum.asearch("Observation"), lambda f: len(f) == before)
        assert len(await medplum.asearch("DiagnosticReport")) == reports
        assert await _outbox(h, "dead") == []


async def test_an_upsert_overtaken_by_its_delete_is_dropped_and_a_newer_copy_survives(
    http_client: httpx.AsyncClient, medplum: MedplumServer,
) -> None:
    client = make_client(http_client, medplum)
    deleted: set[tuple[str, str]] = set()

    async def is_deleted(resource_type: str, resource_id: str) -> bool:
        return (resource_type, resource_id) in deleted

    mirror = MedplumMirror(client, is_deleted)
    doc = {"resourceType": "Observation", "id": "gw-late-1", "status": "final",
           "meta": {"versionId": "1"},
           "code": {"coding": [{"system": "http://loinc.org", "code": "2951-2"}]}}
    before = len(await medplum.asearch("Observation"))
    deleted.add(("Observation", "gw-late-1"))  # deleted here before the upsert got through
    await mirror.deliver(_message({"type": FHIR_UPSERT, "resource": doc}, "k1"))
    assert len(await medplum.asearch("Observation")) == before

    deleted.clear()  # written again after a delete: version 3, then a late delete of v2
    await mirror.deliver(_message({"type": FHIR_UPSERT, "resource": {
        **doc, "meta": {"versionId": "3"}}}, "k2"))
    await mirror.deliver(_message({"type": FHIR_DELETE, "resourceType": "Observation",
                                   "id": "gw-late-1", "version": 2}, "k3"))
    assert len(await medplum.asearch("Observation")) == before + 1
    await mirror.deliver(_message({"type": FHIR_DELETE, "resourceType": "Observation",
                                   "id": "gw-late-1", "version": 4}, "k4"))
    assert len(await medplum.asearch("Observation")) == before
    # Deleting what Medplum does not have is done, not an error (replays, races).
    await mirror.deliver(_message({"type": FHIR_DELETE, "resourceType": "Observation",
                                   "id": "gw-late-1", "version": 4}, "k5"))
