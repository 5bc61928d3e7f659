"""FEBRL4 through ``POST /api/fhir/Patient/$match`` with demographics only (soc_sec_id
withheld), on SQLite and PostgreSQL. A subset keeps the test short; the full figures for
FEBRL 1-4 come from ``python -m benchmarks mpi_accuracy``.

The gateway matches with its default parameters, the register's (defaults.py): there an
agreeing address is household evidence, so FEBRL copies with an address typo or another
birth date fall to possible (recall ~0.67 here, in process too) while nothing wrong links."""

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
    assert scores.precision >= 0.995 and scores.wrong_certain == 0, scores
    assert scores.recall >= 0.65, scores
