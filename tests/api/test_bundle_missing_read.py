"""A transaction bundle whose GET names a missing resource fails as a whole, at once, and
the not-found read is still audited (its audit row must not wait for the bundle's own
transaction, which holds SQLite's one writer)."""

from __future__ import annotations

import time

import pytest

from tests.support import Harness

pytestmark = pytest.mark.db


async def test_a_missing_read_in_a_transaction_fails_fast_and_is_audited(
        gateway_any_db: Harness) -> None:
    gateway = gateway_any_db
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "Otieno"}],
                      "identifier": [{"system": "urn:test:mrn", "value": "B-1"}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/does-not-exist"}}]}
    started = time.perf_counter()
    r = await gateway.client.post("/api/fhir", json=bundle, headers={
        **gateway.auth("clinician"), "Content-Type": "application/fhir+json"})
    elapsed = time.perf_counter() - started
    assert r.status_code == 404, r.text
    assert elapsed < 10, f"the bundle waited {elapsed:.1f} s"
    trail = await gateway.client.get("/api/admin/audit-events?outcome=not_found",
                                     headers=gateway.auth("admin"))
    assert trail.status_code == 200, trail.text
    assert any(e.get("resource_id") == "does-not-exist" for e in trail.json()["data"]["items"])
    search = await gateway.client.get("/api/patients?family=Otieno",
                                      headers=gateway.auth("clinician"))
    assert search.json()["data"]["items"] == []  # nothing of the bundle was kept
