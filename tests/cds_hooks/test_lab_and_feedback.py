"""lab-critical-values reads the patient's recent lab Observations from the gateway's own
FHIR store; feedback on issued cards (accepted with suggestions, overridden with a reason)
is stored and audited, on SQLite and PostgreSQL; feedback naming an unknown card, a
suggestion or reason the card does not have, or lacking required fields, stores nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.db.cds import SqlCdsStore
from tests.cds_hooks.support import (
    cds_gateway,
    cds_settings,
    checked_cards,
    draft,
    order_hook,
    outcome_field,
    patient_view,
)
from tests.support import Harness

LOINC = "http://loinc.org"


@pytest.fixture
async def gateway(tmp_path: Path, database_url: str) -> AsyncIterator[Harness]:
    async with cds_gateway(cds_settings(tmp_path, database_url)) as harness:
        yield harness


def _observation(patient: str, code: str, value: float, unit: str, when: datetime,
                 flags: tuple[str, ...] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                            "observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": code, "display": "Potassium"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when.isoformat(),
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                          "code": unit}}
    if flags:
        body["interpretation"] = [{"coding": [{"code": f} for f in flags]}]
    return body


async def _store(h: Harness, resource: dict[str, Any]) -> str:
    response = await h.client.post(f"/api/fhir/{resource['resourceType']}", json=resource,
                                   headers={**h.auth("clinician"),
                                            "Content-Type": "application/fhir+json"})
    assert response.status_code == 201, response.text
    rid: str = response.json()["id"]
    return rid


async def _lab_cards(h: Harness, patient: str) -> list[dict[str, Any]]:
    return checked_cards(await h.client.post("/cds-services/lab-critical-values",
                                             json=patient_view(patient),
                                             headers=h.auth("clinician")))


async def test_critical_lab_values_from_the_gateway_store(gateway: Harness) -> None:
    patient = (await gateway.create_patient())["id"]
    now = datetime.now(UTC)
    await _store(gateway, _observation(patient, "2823-3", 5.0, "mmol/L", now - timedelta(days=2)))
    newest = await _store(gateway, _observation(patient, "2823-3", 6.9, "mmol/L",
                                                now - timedelta(hours=1)))
    await _store(gateway, _observation(patient, "2951-2", 110, "mmol/L", now - timedelta(
        days=30)))  # critical, but not recent
    (card,) = await _lab_cards(gateway, patient)
    assert card["indicator"] == "critical"
    assert card["summary"].startswith("Critical Potassium: 6.9 mmol/L (high)")
    assert f"Observation/{newest}" in card["detail"] and "Mayo" in card["detail"]
    assert await _lab_cards(gateway, "no-such-patient") == []


async def _feedback(h: Harness, service: str, entries: list[dict[str, Any]],
                    path: str = "/cds-services") -> Any:
    return await h.client.post(f"{path}/{service}/feedback", json={"feedback": entries},
                               headers=h.auth("clinician", sub="dr-f"))


def _at() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def test_feedback_is_stored_and_audited(gateway: Harness) -> None:
    body = order_hook("order-sign", [draft("mr-9", "Simvastatin")], patient="p-fb",
                      medications=["clarithromycin"])
    (card,) = checked_cards(await gateway.client.post(
        "/cds-services/drug-interaction-check", json=body, headers=gateway.auth("clinician")))
    suggestion = card["suggestions"][0]["uuid"]
    reason = card["overrideReasons"][1]
    accepted = await _feedback(gateway, "drug-interaction-check", [{
        "card": card["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion}],
        "outcomeTimestamp": _at()}])
    assert accepted.status_code == 200, accepted.text
    overridden = await _feedback(gateway, "drug-interaction-check", [{
        "card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": _at(),
        "overrideReason": {"reason": reason, "userComment": "short course only"}}],
        path="/cds-hooks")
    assert overridden.status_code == 200, overridden.text
    store = SqlCdsStore(gateway.engine)  # read back from the database
    kept = await store.feedback_of(card["uuid"])
    assert [(k["outcome"], k["accepted_suggestions"], k["override_reason"], k["patient_id"],
             k["received_by"]) for k in kept] == [
        ("accepted", [suggestion], None, "p-fb", "dr-f"),
        ("overridden", None, {"reason": reason, "userComment": "short course only"}, "p-fb",
         "dr-f")]
    events = (await gateway.client.get("/api/admin/audit-events?patient_id=p-fb",
                                       headers=gateway.auth("admin"))).json()["data"]["items"]
    assert sorted((e["resource_type"], e["action"]) for e in events
                  if e["resource_type"].startswith("Cds")) == [
        ("CdsFeedback", "C"), ("CdsFeedback", "C"), ("CdsService", "E")]


async def test_feedback_on_a_lab_card(gateway: Harness) -> None:
    patient = (await gateway.create_patient())["id"]
    await _store(gateway, _observation(patient, "2823-3", 2.1, "mmol/L",
                                       datetime.now(UTC) - timedelta(hours=3), ("LL",)))
    (card,) = await _lab_cards(gateway, patient)
    response = await _feedback(gateway, "lab-critical-values", [{
        "card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": _at()}])
    assert response.status_code == 200


REFUSED = [
    (404, "feedback[0].card", lambda c: {"card": str(uuid.uuid4()), "outcome": "accepted"}),
    (400, "feedback[0].card", lambda c: {"outcome": "accepted"}),
    (400, "feedback[0].outcome", lambda c: {"card": c["uuid"], "outcome": "ignored",
                                            "outcomeTimestamp": _at()}),
    (400, "feedback[0].acceptedSuggestions", lambda c: {
        "card": c["uuid"], "outcome": "accepted", "outcomeTimestamp": _at()}),
    (400, "feedback[0].acceptedSuggestions[0].id", lambda c: {
        "card": c["uuid"], "outcome": "accepted", "outcomeTimestamp": _at(),
        "acceptedSuggestions": [{"id": "not-a-suggestion"}]}),
    (400, "feedback[0].overrideReason.reason", lambda c: {
        "card": c["uuid"], "outcome": "overridden", "outcomeTimestamp": _at(),
        "overrideReason": {"reason": {"system": "urn:x", "code": "because"}}}),
    (400, "feedback[0].outcomeTimestamp", lambda c: {
        "card": c["uuid"], "outcome": "overridden", "outcomeTimestamp": "yesterday"}),
]


@pytest.mark.parametrize(("status", "field", "make"), REFUSED,
                         ids=[f"{n}-{r[1]}" for n, r in enumerate(REFUSED)])
async def test_refused_feedback_stores_nothing(gateway: Harness, status: int, field: str,
                                               make: Any) -> None:
    body = order_hook("order-sign", [draft("mr-3", "Rifampicin")], medications=["dolutegravir"])
    (card,) = checked_cards(await gateway.client.post(
        "/cds-services/drug-interaction-check", json=body, headers=gateway.auth("clinician")))
    good = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": _at()}
    response = await _feedback(gateway, "drug-interaction-check", [good, make(card)])
    assert response.status_code == status, response.text
    assert outcome_field(response) == field.replace("feedback[0]", "feedback[1]")
    store = SqlCdsStore(gateway.engine)
    assert await store.feedback_of(card["uuid"]) == []  # not even the good entry


async def test_feedback_for_another_service_or_unknown_service(gateway: Harness) -> None:
    body = patient_view(medications=["rifampicin", "dolutegravir"])
    (card,) = checked_cards(await gateway.client.post(
        "/cds-services/drug-interaction-check", json=body, headers=gateway.auth("clinician")))
    entry = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": _at()}
    elsewhere = await _feedback(gateway, "lab-critical-values", [entry])
    assert elsewhere.status_code == 404 and outcome_field(elsewhere) == "feedback[0].card"
    assert (await _feedback(gateway, "nope", [entry])).status_code == 404
    anonymous = await gateway.client.post("/cds-services/drug-interaction-check/feedback",
                                          json={"feedback": [entry]})
    assert anonymous.status_code == 401
