"""The use cases the console's review, alert and payment pages call (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from resolvers.errors import Forbidden
from resolvers.principal import Caller, Principal
from resolvers.services import Services
from tests.api.test_lab_ingest import WORKED_EXAMPLE, _ingest, _known_patient
from tests.api.test_mpi_review import _lookalike
from tests.support import Harness


def _caller(*roles: str, purpose: str = "") -> Caller:
    return Caller(Principal(subject="dr-console", roles=frozenset(roles)), surface="console",
                  purpose=purpose)


def _services(h: Harness) -> Services:
    found: Services = h.app.state.services
    return found


@pytest.mark.db
async def test_review_cases_show_what_the_lab_sent_beside_each_candidate(
    gateway_any_db: Harness,
) -> None:
    h = gateway_any_db
    lookalike = await _lookalike(h)
    ingest = (await _ingest(h, WORKED_EXAMPLE)).json()["data"]
    review = _services(h).lab_review
    page = await review.cases(_caller("clinician"))
    [case] = page.cases
    assert case.lab_result_id == ingest["lab_result_id"] and page.next_cursor is None
    # The lab's PID beside the MPI record, with the matcher's scores per field.
    assert case.sent.family == "ODHIAMBO" and case.sent.given[:1] == ("GRACE",)
    [candidate] = case.candidates
    assert candidate.patient is not None and candidate.patient.id == lookalike["id"]
    assert "family" in candidate.task.field_scores
    one = await review.cases(_caller("clinician", purpose="reveal"),
                             lab_result_id=case.lab_result_id)
    assert [c.lab_result_id for c in one.cases] == [case.lab_result_id]
    with pytest.raises(Forbidden):
        await review.cases(_caller("billing"))
    audit = (await h.client.get("/api/admin/audit-events?resource_type=ReviewTask&action=R",
                                headers=h.auth("admin"))).json()["data"]["items"]
    mine = [(a["outcome"], a["purpose"], a["patient_id"]) for a in audit
            if a["subject"] == "dr-console"]
    assert ("success", "reveal", lookalike["id"]) in mine
    assert ("success", "", lookalike["id"]) in mine and ("denied", "", None) in mine
    # Once decided the case leaves the queue.
    await review.resolve(_caller("clinician"), candidate.task.id, "reject")
    assert (await review.cases(_caller("clinician"))).cases == ()


async def test_review_cases_page_by_lab_result(gateway: Harness) -> None:
    h = gateway
    await _lookalike(h)
    for n in range(3):  # three held results, each with its lookalike candidate
        await _ingest(h, WORKED_EXAMPLE.replace("LAB000123", f"LABC3{n}").replace(
            "FIL552", f"FIL9{n}").replace("PLC881", f"PLC9{n}"))
    review = _services(h).lab_review
    seen: list[str] = []
    cursor = None
    while True:
        page = await review.cases(_caller("clinician"), after=cursor, limit=2)
        seen += [c.lab_result_id for c in page.cases]
        cursor = page.next_cursor
        if cursor is None:
            break
    queue = (await h.client.get("/api/mpi/review", headers=h.auth("clinician"))).json()
    expected = list(dict.fromkeys(t["lab_result_id"] for t in queue["data"]["items"]))
    assert seen == expected and len(seen) == 3


@pytest.mark.db
async def test_only_unacknowledged_alerts(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    await _known_patient(h)
    await _ingest(h, WORKED_EXAMPLE)  # a certain match: its potassium of 6.9 alerts
    queries = _services(h).lab_queries
    [alert] = await queries.alerts(_caller("clinician"), None, None, 50, unacknowledged=True)
    await _services(h).lab_alerts.acknowledge(_caller("clinician"), alert.id)
    assert await queries.alerts(_caller("clinician"), None, None, 50, unacknowledged=True) == []
    [acked] = await queries.alerts(_caller("clinician"), None, None, 50)
    assert acked.acknowledged_by == "dr-console"
