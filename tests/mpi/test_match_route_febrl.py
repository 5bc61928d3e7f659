"""Matching through ``POST /api/fhir/Patient/$match`` on SQLite and PostgreSQL, with the
register profile the gateway takes of what it stores (resolvers/mpi/scoring/profile.py).

* FEBRL4, demographics only (soc_sec_id withheld): one person per address, so the profile
  says ``individuals`` and the individual parameters link the copies. A subset keeps the
  test short; the full figures for FEBRL 1-4 come from ``python -m benchmarks mpi_accuracy``.
* The synthetic African register: households, so the profile says ``households``, and no
  unregistered twin, sibling or namesake is ever linked ``certain``.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.mpi_match_http import fhir_patient
from benchmarks.synthetic_register import generate
from tests.mpi.febrl_match import febrl4_frames, febrl_patient, link_through_match, store_patients
from tests.support import Harness

pytestmark = pytest.mark.db
PAIRS = 400
SEED = 424242


def _in_lab_system(patient: dict[str, Any]) -> dict[str, Any]:
    # The lab's own record numbers: another system, which says nothing about the clinic's.
    patient["identifier"] = [{"system": "urn:lab:record", "value": i["value"]}
                             for i in patient["identifier"]]
    return patient


async def _profile(gateway: Harness) -> dict[str, Any]:
    r = await gateway.client.post("/api/mpi/profile", headers=gateway.auth("admin"))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    seen = await gateway.client.get("/api/mpi/profile", headers=gateway.auth("admin"))
    assert seen.json()["data"] == data
    return data


async def test_febrl4_demographics_only_through_match(gateway_any_db: Harness) -> None:
    gateway = gateway_any_db
    rows_a, rows_b, truth = febrl4_frames(PAIRS)
    headers = gateway.auth("clinician")
    await store_patients(gateway.client.post, headers,
                         (febrl_patient(rid, row, "urn:febrl:a") for rid, row in rows_a.items()))
    queries = {rid: febrl_patient(rid, row, "urn:febrl:b") for rid, row in rows_b.items()}
    before = await link_through_match(gateway.client.post, headers, queries, truth)

    profile = await _profile(gateway)
    assert profile["kind"] == "individuals", profile
    assert profile["profile"]["register_size"] == PAIRS
    # Another client: the rate limit counts per client, and this is the second pass.
    scores = await link_through_match(gateway.client.post,
                                      gateway.auth("clinician", sub="second-pass"), queries, truth)
    assert scores.precision >= 0.995 and scores.wrong_certain == 0, scores
    assert scores.recall >= 0.95, scores
    # Before the profile the household parameters (the safe default) held many copies back.
    assert before.recall < scores.recall and before.wrong_certain == 0, (before, scores)


async def test_a_register_of_households_never_links_a_relative_certain(
        gateway_any_db: Harness) -> None:
    gateway = gateway_any_db
    register = generate(600, SEED)
    headers = gateway.auth("clinician")
    await store_patients(gateway.client.post, headers,
                         (fhir_patient(p, pid) for pid, p in register.patients.items()))
    profile = await _profile(gateway)
    assert profile["kind"] == "households", profile
    queries = {qid: _in_lab_system(fhir_patient(p, qid)) for qid, p in register.queries.items()}
    truth = {(pid, qid) for qid, pid in register.truth.items()}
    scores = await link_through_match(gateway.client.post, headers, queries, truth)
    assert scores.wrong_certain == 0, scores
    assert scores.f1 >= 0.9, scores


async def test_the_profile_is_for_admins(gateway_any_db: Harness) -> None:
    for method in ("GET", "POST"):
        r = await gateway_any_db.client.request(method, "/api/mpi/profile",
                                                headers=gateway_any_db.auth("clinician"))
        assert r.status_code == 403, r.text
