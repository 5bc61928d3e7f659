"""MPI review over REST: resolve tasks (link or reject), links with their why, undo."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.test_lab_ingest import WORKED_EXAMPLE, _ingest, _known_patient
from tests.support import Harness


async def _lookalike(h: Harness) -> dict[str, Any]:
    """The message's patient's name and sex, day and month of birth swapped, and none of its
    identifiers: a match the MPI must not take on its own."""
    return await h.create_patient(identifiers=[{"system": "urn:test:other", "value": "X1"}],
                                  family="Odhiambo", given=["Grace"], birth_date="1985-12-04",
                                  gender="female")


async def _queue(h: Harness) -> list[dict[str, Any]]:
    r = await h.client.get("/api/mpi/review", headers=h.auth("clinician"))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["data"]["items"]
    return items


async def _resolve(h: Harness, task_id: str, decision: str, *roles: str) -> Any:
    return await h.client.post(f"/api/mpi/review/{task_id}/resolve", json={"decision": decision},
                               headers=h.auth(*(roles or ("clinician",))))


async def _observations(h: Harness, patient_id: str) -> int:
    r = await h.client.get(f"/api/fhir/Observation?patient={patient_id}",
                           headers=h.auth("clinician"))
    total: int = r.json()["total"]
    return total


async def _links(h: Harness, **query: str) -> list[dict[str, Any]]:
    r = await h.client.get("/api/mpi/links", params=query, headers=h.auth("clinician"))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["data"]["items"]
    return items


async def test_a_review_link_attaches_the_held_results_and_records_why(gateway: Harness) -> None:
    h = gateway
    lookalike = await _lookalike(h)
    ingest = (await _ingest(h, WORKED_EXAMPLE)).json()["data"]
    assert ingest["patient_matched"] is False and ingest["observations_created"] == 0
    [task] = await _queue(h)
    assert task["candidate_patient_id"] == lookalike["id"] and task["grade"] in (
        "probable", "possible")
    assert await _observations(h, lookalike["id"]) == 0

    assert (await _resolve(h, task["id"], "link", "lab")).status_code == 403
    r = await _resolve(h, task["id"], "link")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "linked" and r.json()["data"]["resolved_by"] == "tester"
    assert await _queue(h) == []
    assert await _observations(h, lookalike["id"]) == 2
    alerts = (await h.client.get(f"/api/lab/alerts?patient_id={lookalike['id']}",
                                 headers=h.auth("clinician"))).json()["data"]["items"]
    assert [a["code"] for a in alerts] == ["2823-3"]  # the potassium of 6.9 is critical
    [link] = await _links(h, lab_result_id=ingest["lab_result_id"])
    assert (link["method"], link["patient_id"], link["review_task_id"]) == (
        "review", lookalike["id"], task["id"])
    assert link["field_scores"] == task["field_scores"] and "family" in link["field_scores"]

    again = await _resolve(h, task["id"], "link")
    assert again.status_code == 409
    assert (await _resolve(h, "no-such-task", "link")).status_code == 404
    assert (await h.client.post(f"/api/mpi/review/{task['id']}/resolve",
                                json={"decision": "maybe"},
                                headers=h.auth("clinician"))).status_code == 422


async def test_a_rejected_candidate_leaves_the_result_unmatched(gateway: Harness) -> None:
    h = gateway
    lookalike = await _lookalike(h)
    await _ingest(h, WORKED_EXAMPLE)
    [task] = await _queue(h)
    r = await _resolve(h, task["id"], "reject")
    assert r.status_code == 200 and r.json()["data"]["status"] == "rejected"
    assert await _queue(h) == [] and await _observations(h, lookalike["id"]) == 0
    assert await _links(h) == []


@pytest.mark.db
async def test_undoing_an_auto_link_removes_its_results_and_reopens_review(
    gateway_any_db: Harness,
) -> None:
    h = gateway_any_db
    known = await _known_patient(h)
    lookalike = await _lookalike(h)
    ingest = (await _ingest(h, WORKED_EXAMPLE)).json()["data"]
    assert ingest["patient_id"] == known["id"]
    [auto] = await _links(h, patient_id=known["id"])
    assert auto["method"] == "auto" and auto["grade"] == "certain"
    assert auto["field_scores"] and auto["undone_at"] is None

    r = await h.client.post(f"/api/mpi/links/{auto['id']}/undo",
                            json={"reason": "wrong Grace"}, headers=h.auth("clinician"))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["undo_reason"] == "wrong Grace" and r.json()["data"]["undone_at"]
    assert await _observations(h, known["id"]) == 0
    # Back in the queue, with the other candidate only (never the patient just unlinked).
    queue = await _queue(h)
    assert [t["candidate_patient_id"] for t in queue] == [lookalike["id"]]
    twice = await h.client.post(f"/api/mpi/links/{auto['id']}/undo", json={"reason": "again"},
                                headers=h.auth("clinician"))
    assert twice.status_code == 409

    # The critical potassium's alert no longer names the unlinked patient: held again.
    [alert] = (await h.client.get("/api/lab/alerts", headers=h.auth("clinician"))
               ).json()["data"]["items"]
    assert alert["patient_id"] is None and alert["observation_id"] is None
    assert [c["patient_id"] for c in alert["candidates"]] == [lookalike["id"]]

    assert (await _resolve(h, queue[0]["id"], "link")).status_code == 200
    assert await _observations(h, lookalike["id"]) == 2
    [adopted] = (await h.client.get("/api/lab/alerts", headers=h.auth("clinician"))
                 ).json()["data"]["items"]
    assert adopted["id"] == alert["id"] and adopted["patient_id"] == lookalike["id"]
    methods = sorted(k["method"] for k in await _links(h, lab_result_id=ingest["lab_result_id"]))
    assert methods == ["auto", "review"]


@pytest.mark.db
async def test_two_people_deciding_at_once_cannot_both_win(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    lookalike = await _lookalike(h)
    await _ingest(h, WORKED_EXAMPLE)
    [task] = await _queue(h)
    answers = await asyncio.gather(*(_resolve(h, task["id"], "link") for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409, 409]
    assert await _observations(h, lookalike["id"]) == 2


async def test_review_routes_need_a_token(gateway: Harness) -> None:
    r = await gateway.client.post("/api/mpi/review/x/resolve", json={"decision": "link"})
    assert r.status_code == 401
    assert (await gateway.client.get("/api/mpi/links")).status_code == 401


RESOLVE = """mutation($id: ID!, $d: ReviewDecision!) { resolveReviewTask(id: $id, decision: $d) {
  __typename ... on ReviewTaskDecision { status candidatePatientId resolvedBy }
  ... on ConflictError { message } ... on NotFoundError { message } } }"""
UNDO = """mutation($id: ID!, $r: String!) { undoPatientLink(id: $id, reason: $r) {
  __typename ... on PatientLink { method undoneBy undoReason fieldScores { field weight } }
  ... on ConflictError { message } ... on ValidationError { message } } }"""
LINKS = """query($p: String) { patientLinks(patientId: $p) { id method grade score
  fieldScores { field weight } undoneAt } }"""


async def test_review_over_graphql(gateway: Harness) -> None:
    h = gateway
    lookalike = await _lookalike(h)
    await _ingest(h, WORKED_EXAMPLE)
    [task] = await _queue(h)
    done = await h.gql(RESOLVE, {"id": task["id"], "d": "LINK"}, roles=("clinician",))
    assert done["data"]["resolveReviewTask"] == {
        "__typename": "ReviewTaskDecision", "status": "linked",
        "candidatePatientId": lookalike["id"], "resolvedBy": "tester"}
    again = await h.gql(RESOLVE, {"id": task["id"], "d": "REJECT"}, roles=("clinician",))
    assert again["data"]["resolveReviewTask"]["__typename"] == "ConflictError"
    missing = await h.gql(RESOLVE, {"id": "nope", "d": "LINK"}, roles=("clinician",))
    assert missing["data"]["resolveReviewTask"]["__typename"] == "NotFoundError"
    denied = await h.gql(RESOLVE, {"id": task["id"], "d": "LINK"}, roles=("lab",))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    [link] = (await h.gql(LINKS, {"p": lookalike["id"]}, roles=("clinician",)))["data"][
        "patientLinks"]
    assert link["method"] == "review" and link["undoneAt"] is None
    assert {f["field"] for f in link["fieldScores"]} >= {"family", "birth_date"}
    blank = await h.gql(UNDO, {"id": link["id"], "r": " "}, roles=("clinician",))
    assert blank["data"]["undoPatientLink"]["__typename"] == "ValidationError"
    undone = await h.gql(UNDO, {"id": link["id"], "r": "mix-up"}, roles=("clinician",))
    assert undone["data"]["undoPatientLink"]["undoReason"] == "mix-up"
    assert await _observations(h, lookalike["id"]) == 0
