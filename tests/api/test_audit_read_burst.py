"""A concurrent burst of reads: every answered read has its audit row, committed before the
answer, though readers share commits (resolvers/audit/writer.py). On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.support import Harness, count_queries, make_settings, running_app

READS_PER_KIND = 25
PATIENT_QUERY = "query($id: ID!) { patient(id: $id) { id family managingOrganization { name } } }"


@pytest.fixture
async def quiet_any_db(tmp_path: Path, database_url: str) -> AsyncIterator[Harness]:
    """No outbox worker: what is written during the burst is the reads' doing."""
    settings = make_settings(tmp_path / "var", database_url, outbox_worker=False)
    async with running_app(settings) as harness:
        yield harness


async def _audit_rows(h: Harness, request_id: str) -> int:
    # Another connection than the audit writer's: what any reader of the trail would see.
    async with h.engines[-1].connect() as conn:
        found = await conn.execute(text("SELECT count(*) FROM audit_events WHERE request_id = :r"),
                                   {"r": request_id})
        return int(found.scalar_one())


async def test_every_read_of_a_burst_is_audited_before_it_is_answered(
        quiet_any_db: Harness) -> None:
    h = quiet_any_db
    org = (await h.client.post("/api/organizations", json={"name": "Burst Clinic"},
                               headers=h.auth("admin"))).json()["data"]
    patient = await h.create_patient(organization_id=org["id"])
    pid = patient["id"]
    headers = h.auth("clinician", sub="burst-reader")
    kinds: dict[str, Callable[[], asyncio.Future[httpx.Response]]] = {
        "rest": lambda: asyncio.ensure_future(h.client.get(f"/api/patients/{pid}",
                                                           headers=headers)),
        "fhir": lambda: asyncio.ensure_future(h.client.get(f"/api/fhir/Patient/{pid}",
                                                           headers=headers)),
        "graphql": lambda: asyncio.ensure_future(h.client.post(
            "/graphql", json={"query": PATIENT_QUERY, "variables": {"id": pid}},
            headers=headers)),
    }
    committed_when_answered: list[int] = []

    async def read(kind: str) -> str:
        response = await kinds[kind]()
        assert response.status_code == 200, response.text
        if kind == "graphql":
            assert response.json()["data"]["patient"]["id"] == pid
        request_id = response.headers["x-request-id"]
        committed_when_answered.append(await _audit_rows(h, request_id))
        return request_id

    with count_queries(h.engine) as writes:
        answered = await asyncio.gather(*(read(kind) for _ in range(READS_PER_KIND)
                                          for kind in kinds))

    reads = len(answered)
    assert reads == 3 * READS_PER_KIND and len(set(answered)) == reads
    # Each read found its own row at once: it was committed before the answer left.
    assert committed_when_answered == [1] * reads
    async with h.engines[-1].connect() as conn:
        rows = (await conn.execute(text(
            "SELECT request_id, action, outcome, patient_id FROM audit_events "
            "WHERE subject = 'burst-reader'"))).all()
    assert len(rows) == reads
    assert {r.request_id for r in rows} == set(answered)
    assert {(r.action, r.outcome, r.patient_id) for r in rows} == {("R", "success", pid)}
    # Readers shared commits: fewer audit INSERTs than reads.
    inserts = [s for s in writes.statements if s.lstrip().upper().startswith(
        "INSERT INTO AUDIT_EVENTS")]
    assert 0 < len(inserts) < reads, f"{len(inserts)} audit inserts for {reads} reads"
    # Nothing else was written for these reads (the MPI's own background work aside).
    others = [s for s in writes.statements if not s.lstrip().upper().startswith(
        ("SELECT", "INSERT INTO AUDIT_EVENTS")) and "mpi_" not in s]
    assert not others, others
