"""The MPI review, lab alert and payment pages over HTTP with a signed-in console session:
what each role sees, masking and the audited reveal, every action's CSRF refusal, and the
audit rows the use cases write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_lab_ingest import WORKED_EXAMPLE, _ingest, _known_patient
from tests.api.test_mpi_review import _lookalike
from tests.console.http_support import csrf_of, sign_in
from tests.payments.fake_provider import FakeProvider, succeeded
from tests.payments.test_payments_api import _make_due
from tests.support import Harness, make_settings, running_app

HTMX = {"HX-Request": "true"}


@pytest.fixture
async def h(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    # No reconciler task: the payment test runs the passes itself.
    settings = make_settings(tmp_path / "var", sqlite_url, payments_reconcile_seconds=0.0)
    async with running_app(settings) as harness:
        yield harness


async def _audit(h: Harness, **query: str) -> list[dict[str, Any]]:
    r = await h.client.get("/api/admin/audit-events", params={"limit": "200", **query},
                           headers=h.auth("admin"))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["data"]["items"]
    return items


def _nav(html: str) -> str:
    return html[html.index('class="mainnav"'):html.index("</nav>")]


async def test_review_queue_masked_reveal_link_and_undo(h: Harness) -> None:
    lookalike = await _lookalike(h)
    await _ingest(h, WORKED_EXAMPLE)  # held: the lookalike is only a probable match
    await sign_in(h, "clinician", sub="dr-achieng")
    page = await h.client.get("/console/review")
    assert page.status_code == 200, page.text
    assert "/console/review" in _nav(page.text) and "/console/payments" not in _nav(page.text)
    assert "ODHIAMBO" not in page.text and "Odhiambo" not in page.text  # masked
    assert "O•••••••" in page.text and lookalike["id"] in page.text
    assert 'class="badge ok"' in page.text  # the family name agrees: a positive weight
    token = csrf_of(page.text)
    [result_id] = {m for m in _between(page.text, 'review-case" id="case-', '"')}

    # Reveal: refused without the CSRF token; with it, names shown and the read recorded.
    refused = await h.client.post(f"/console/review/cases/{result_id}/reveal", headers=HTMX)
    assert refused.status_code == 403 and "ODHIAMBO" not in refused.text
    shown = await h.client.post(f"/console/review/cases/{result_id}/reveal",
                                headers={**HTMX, "X-CSRF-Token": token})
    assert shown.status_code == 200 and "ODHIAMBO" in shown.text and "Odhiambo" in shown.text
    assert "<html" not in shown.text  # the htmx partial only
    reveals = [a for a in await _audit(h, resource_type="ReviewTask", action="R")
               if a["purpose"] == "reveal"]
    assert [(a["subject"], a["patient_id"], a["surface"]) for a in reveals] == [
        ("dr-achieng", lookalike["id"], "console")]

    # Link: refused without the token (the task stays open), then done.
    [task_id] = {m for m in _between(page.text, 'data-task="', '"')}
    assert (await h.client.post(f"/console/review/tasks/{task_id}/link",
                                data={"csrf_token": "0" * 64})).status_code == 403
    assert (await h.client.get("/api/mpi/review", headers=h.auth("clinician"))
            ).json()["data"]["items"] != []
    linked = await h.client.post(f"/console/review/tasks/{task_id}/link",
                                 headers={**HTMX, "X-CSRF-Token": token})
    assert linked.status_code == 200 and 'id="review-notice"' in linked.text
    assert 'id="review-empty"' in linked.text and 'class="secondary undo-link"' in linked.text
    decided = await _audit(h, resource_type="LabResult", action="U")
    assert [(a["subject"], a["patient_id"]) for a in decided] == [
        ("dr-achieng", lookalike["id"])]
    again = await h.client.post(f"/console/review/tasks/{task_id}/link",
                                headers={**HTMX, "X-CSRF-Token": token})
    assert 'id="review-error"' in again.text and "already linked" in again.text

    # Undo (a plain form post: post/redirect/get); a reason is required.
    [link_id] = {m for m in _between(linked.text, "/console/review/links/", "/undo")}
    no_reason = await h.client.post(f"/console/review/links/{link_id}/undo",
                                    data={"csrf_token": token, "reason": " "})
    assert no_reason.status_code == 400 and "Give a reason" in no_reason.text
    undone = await h.client.post(f"/console/review/links/{link_id}/undo",
                                 data={"csrf_token": token, "reason": "wrong Grace"})
    assert undone.status_code == 303 and undone.headers["location"].endswith("done=undone")
    back = await h.client.get(undone.headers["location"])
    # The lookalike was the only candidate and is never offered again: nothing to review.
    assert 'id="review-notice"' in back.text and 'id="review-empty"' in back.text
    assert "wrong Grace" in back.text and "Undone by dr-achieng" in back.text

    # Another held result: reject its candidate.
    await _ingest(h, WORKED_EXAMPLE.replace("LAB000123", "LAB000124").replace(
        "FIL552", "FIL553").replace("PLC881", "PLC882"))
    queue = await h.client.get("/console/review")
    [task2] = {m for m in _between(queue.text, 'data-task="', '"')}
    rejected = await h.client.post(f"/console/review/tasks/{task2}/reject",
                                   headers={**HTMX, "X-CSRF-Token": token})
    assert 'id="review-empty"' in rejected.text and "Candidate rejected" in rejected.text


def _between(text: str, start: str, end: str) -> list[str]:
    found = []
    at = text.find(start)
    while at >= 0:
        at += len(start)
        found.append(text[at:text.index(end, at)])
        at = text.find(start, at)
    return found


async def test_review_page_is_refused_to_billing_and_lab(h: Harness) -> None:
    await sign_in(h, "billing", sub="cashier")
    page = await h.client.get("/console/review")
    assert page.status_code == 403 and "/console/review" not in _nav(page.text)
    assert (await h.client.post("/console/review/tasks/x/link",
                                data={"csrf_token": csrf_of(page.text)})).status_code == 403
    h.client.cookies.clear()  # another operator on this browser
    await sign_in(h, "lab", sub="lab-tech")
    assert (await h.client.get("/console/review")).status_code == 403


async def test_alerts_unacknowledged_first_and_acknowledge(h: Harness) -> None:
    await _known_patient(h)
    await _ingest(h, WORKED_EXAMPLE)  # certain match: the potassium of 6.9 alerts
    await sign_in(h, "lab", sub="lab-tech-1")
    page = await h.client.get("/console/alerts")
    assert page.status_code == 200, page.text
    assert "/console/alerts" in _nav(page.text) and "/console/review" not in _nav(page.text)
    waiting = page.text[page.text.index('id="waiting-alerts"'):]
    assert "2823-3" in waiting and "6.9" in waiting and 'id="none-acknowledged"' in page.text
    [alert_id] = _between(page.text, 'data-alert="', '"')
    # Without the CSRF token: refused, still waiting.
    refused = await h.client.post(f"/console/alerts/{alert_id}/acknowledge", data={})
    assert refused.status_code == 403
    assert (await h.client.get("/api/lab/alerts", headers=h.auth("lab"))
            ).json()["data"]["items"][0]["acknowledged_at"] is None
    done = await h.client.post(f"/console/alerts/{alert_id}/acknowledge",
                               data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 303
    after = await h.client.get(done.headers["location"])
    assert 'id="alerts-notice"' in after.text and 'id="no-waiting"' in after.text
    acked = after.text[after.text.index('id="acknowledged-alerts"'):]
    assert "lab-tech-1" in acked
    twice = await h.client.post(f"/console/alerts/{alert_id}/acknowledge",
                                headers={**HTMX, "X-CSRF-Token": csrf_of(page.text)})
    assert twice.status_code == 200 and "already acknowledged" in twice.text
    updates = await _audit(h, resource_type="LabAlert", action="U")
    assert [(a["subject"], a["outcome"], a["surface"]) for a in updates] == [
        ("lab-tech-1", "success", "console")]
    reads = await _audit(h, resource_type="LabAlert", action="R", subject="lab-tech-1")
    assert reads and all(a["surface"] == "console" for a in reads)


async def test_alerts_page_is_refused_to_billing(h: Harness) -> None:
    await sign_in(h, "billing")
    assert (await h.client.get("/console/alerts")).status_code == 403


async def test_payments_states_provider_answers_and_reconciliation(h: Harness) -> None:
    momo = FakeProvider(name="mtn_momo", currencies=frozenset({"UGX"}))
    h.app.state.services.payments.providers.use({"mtn_momo": momo})
    patient = await h.create_patient()
    ids = []
    for n in range(3):
        r = await h.client.post("/api/payments", json={
            "provider": "mtn_momo", "amount": 1500 + n, "currency": "UGX", "phone": "0772123456",
            "reference": f"INV-{n}", **({"patient_id": patient["id"]} if n == 0 else {})},
            headers={**h.auth("billing"), "Idempotency-Key": f"k{n}"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["data"])
    momo.statuses[ids[0]["provider_reference"]] = succeeded(1500, "+256772123456")
    await _make_due(h, ids[0]["id"])
    await h.app.state.services.payments.reconciler.run_once()

    await sign_in(h, "billing", sub="cashier")
    page = await h.client.get("/console/payments")
    assert page.status_code == 200, page.text
    assert "/console/payments" in _nav(page.text) and "/console/alerts" not in _nav(page.text)
    assert page.text.count('<tr id="payment-') == 3
    assert "772123456" not in page.text and "+••••••••••56" in page.text  # phone masked
    row = page.text[page.text.index(f'id="payment-{ids[0]["id"]}"'):]
    row = row[:row.index("</tr>")]
    assert "Succeeded" in row and "reconciler" in row and "1,500 UGX" in row
    only = await h.client.get("/console/payments", params={"status": "succeeded"},
                              headers=HTMX)
    assert only.text.count('<tr id="payment-') == 1 and "<html" not in only.text
    paged = await h.client.get("/console/payments", params={"reference": "INV-2"})
    assert paged.text.count('<tr id="payment-') == 1 and "INV-2" in paged.text
    # The payment naming a patient was read: recorded with the patient, on the console.
    reads = await _audit(h, resource_type="Payment", action="R", subject="cashier")
    assert (patient["id"], "console") in {(a["patient_id"], a["surface"]) for a in reads}
    assert {a["surface"] for a in reads} == {"console"}


async def test_a_clinician_cannot_open_the_payments_page(h: Harness) -> None:
    await sign_in(h, "clinician", sub="dr-otieno")
    page = await h.client.get("/console/payments")
    assert page.status_code == 403
    assert "/console/payments" not in _nav(page.text) and "/console/review" in _nav(page.text)
    assert "not give access" in page.text


async def test_an_integrator_sees_the_three_pages_and_the_rest_reads(h: Harness) -> None:
    """'Admin and integrator see everything': in the use cases, so REST agrees."""
    await _lookalike(h)
    await _ingest(h, WORKED_EXAMPLE)
    await sign_in(h, "integrator", sub="officer-7")
    for path in ("/console/review", "/console/alerts", "/console/payments"):
        page = await h.client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert path in _nav(page.text)
    for path in ("/api/mpi/review", "/api/lab/alerts", "/api/payments", "/api/mpi/links"):
        assert (await h.client.get(path, headers=h.auth("integrator"))).status_code == 200
    # Starting a payment stays billing's.
    r = await h.client.post("/api/payments", json={
        "provider": "mpesa", "amount": 100, "currency": "KES", "phone": "0712345678",
        "reference": "INV-9"}, headers={**h.auth("integrator"), "Idempotency-Key": "i1"})
    assert r.status_code == 403


async def test_the_pages_in_french(h: Harness) -> None:
    await _lookalike(h)
    await _ingest(h, WORKED_EXAMPLE)
    await sign_in(h, "admin")
    review = await h.client.get("/console/review", headers={"Accept-Language": "fr"})
    assert "Envoyé par le laboratoire" in review.text and "Rejeter" in review.text
    alerts = await h.client.get("/console/alerts", headers={"Accept-Language": "fr"})
    assert "En attente d'accusé de réception" in alerts.text.replace("&#39;", "'")
    payments = await h.client.get("/console/payments", headers={"Accept-Language": "fr"})
    assert "Aucun paiement ne correspond" in payments.text


async def test_every_action_is_refused_without_the_csrf_token(h: Harness) -> None:
    """Link, reject, undo, reveal and acknowledge: a POST without the session's token (or
    with another's) is the 403 page, and nothing is decided or written."""
    known = await _known_patient(h)
    await _lookalike(h)
    await _ingest(h, WORKED_EXAMPLE)  # auto-linked to the known patient: a link and an alert
    [link] = (await h.client.get("/api/mpi/links", headers=h.auth("clinician"))
              ).json()["data"]["items"]
    [alert] = (await h.client.get("/api/lab/alerts", headers=h.auth("clinician"))
               ).json()["data"]["items"]
    await sign_in(h, "clinician", sub="dr-achieng")
    before = len(await _audit(h, action="U"))
    for path, form in ((f"/console/review/links/{link['id']}/undo", {"reason": "x"}),
                       (f"/console/alerts/{alert['id']}/acknowledge", {}),
                       ("/console/review/tasks/any/link", {}),
                       ("/console/review/tasks/any/reject", {}),
                       (f"/console/review/cases/{link['lab_result_id']}/reveal", {})):
        for token in ("", "f" * 64):
            r = await h.client.post(path, data={**form, "csrf_token": token})
            assert r.status_code == 403 and "could not be verified" in r.text, path
    assert len(await _audit(h, action="U")) == before
    assert [a["purpose"] for a in await _audit(h, resource_type="ReviewTask")
            if a["purpose"] == "reveal"] == []
    [still] = (await h.client.get("/api/mpi/links", headers=h.auth("clinician"))
               ).json()["data"]["items"]
    assert still["undone_at"] is None and still["patient_id"] == known["id"]
    page = await h.client.get("/console/review")
    undone = await h.client.post(f"/console/review/links/{link['id']}/undo",
                                 data={"reason": "wrong Grace", "csrf_token": csrf_of(page.text)})
    assert undone.status_code == 303
    # Back in review with the other candidate; the undo is recorded under the clinician.
    back = await h.client.get("/console/review")
    assert back.text.count('class="card review-case"') == 1
    assert [(a["subject"], a["patient_id"]) for a in await _audit(
        h, resource_type="LabResult", action="U")] == [("dr-achieng", known["id"])]
