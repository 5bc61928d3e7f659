"""FEBRL4 through ``POST /api/fhir/Patient/$match`` with demographics only (soc_sec_id
withheld), on SQLite and PostgreSQL. A subset keeps the test short; the full figures for
FEBRL 1-4 come from ``python -m benchmarks mpi_accuracy``."""

from __future__ import annotations

import pytest

from tests.mpi.febrl_match import febrl4_frames, febrl_patient, link_through_match, store_patients
from tests.support import Harness

pytestmark = pytest.mark.db
PAIRS = 400


async def test_febrl4_demographics_only_through_match(gateway_any_db: Harness) -> None:
    gateway = gateway_any_db
    rows_a, rows_b, truth = febrl4_frames(PAIRS)
    headers = gateway.auth("clinician")
    await store_patients(gateway.client.post, headers,
                         (febrl_patient(rid, row, "urn:febrl:a") for rid, row in rows_a.items()))
    queries = {rid: febrl_patient(rid, row, "urn:febrl:b") for rid, row in rows_b.items()}
    scores = await link_through_match(gateway.client.post, headers, queries, truth)
    assert scores.precision >= 0.995, scores
    assert scores.f1 >= 0.98, scores
