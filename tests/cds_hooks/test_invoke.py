"""Calling drug-interaction-check over HTTP (the fake checker): patient-view with
context.medications in every form, order-sign and order-select with draft orders and their
FHIR delete suggestions, both paths, the audit record; every card checked against the
CDS Hooks 2.0 response schema."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cds_hooks.fakes import RXNORM
from tests.cds_hooks.support import (
    checked_cards,
    draft,
    order_hook,
    patient_view,
)
from tests.support import Harness

PATHS = ("/cds-services/drug-interaction-check", "/cds-hooks/drug-interaction-check")


async def _call(h: Harness, body: dict[str, Any], path: str = PATHS[0],
                role: str = "clinician") -> list[dict[str, Any]]:
    return checked_cards(await h.client.post(path, json=body, headers=h.auth(role)))


@pytest.mark.parametrize("path", PATHS)
async def test_patient_view_interaction_card(cds: Harness, path: str) -> None:
    cards = await _call(cds, patient_view(medications=["Rifampicin 150 mg", "Dolutegravir"]),
                        path)
    (card,) = cards
    assert card["indicator"] == "warning"  # major -> warning (documented)
    assert card["summary"].startswith("Rifampicin with dolutegravir")
    assert card["source"]["label"] == "WHO Consolidated HIV guidelines 2021"
    assert card["source"]["url"].startswith("https://www.who.int/")
    assert card["source"]["topic"]["code"] == "interaction"
    detail = card["detail"]
    for part in ("Mechanism", "Clinical effect", "Management", "Rifampicin 150 mg",
                 "Dolutegravir", "name `rifampicin`", "Table 4.3", "version fake-1"):
        assert part in detail, part
    assert "suggestions" not in card and "selectionBehavior" not in card  # nothing to undo
    assert card["links"][0]["type"] == "absolute"
    assert {r["code"] for r in card["overrideReasons"]} >= {"benefit-outweighs-risk"}


async def test_every_medication_form_reaches_the_checker(cds: Harness) -> None:
    medications = [
        {"resourceType": "MedicationStatement", "id": "ms-1", "status": "active",
         "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "36567",
                                                   "display": "simvastatin"}]}},
        {"coding": [{"system": RXNORM, "code": "21212"}], "text": "Klacid"},  # CodeableConcept
        {"system": RXNORM, "code": "5640", "display": "Brufen"},  # a Coding
        {"name": "Lisinopril 10mg", "code": "29046", "system": RXNORM},
        "paracetamol", {"text": "metoclopramide"},
    ]
    cards = await _call(cds, patient_view(medications=medications))
    indicators = [c["indicator"] for c in cards]
    assert indicators == ["critical", "warning", "info"]  # most severe first
    assert "`http://www.nlm.nih.gov/research/umls/rxnorm|36567`" in cards[0]["detail"]
    assert "(MedicationStatement/ms-1)" in cards[0]["detail"]


async def test_no_findings_is_an_empty_card_list(cds: Harness) -> None:
    response = await cds.client.post(PATHS[0], json=patient_view(medications=["paracetamol"]),
                                     headers=cds.auth("clinician"))
    assert response.status_code == 200 and response.json() == {"cards": []}


async def test_order_sign_suggests_deleting_the_draft(cds: Harness) -> None:
    body = order_hook("order-sign", [draft("mr-1", "Simvastatin 40 mg")],
                      medications=["clarithromycin 500 mg", "ibuprofen", "lisinopril"])
    (card,) = await _call(cds, body, PATHS[1], role="integrator")
    assert card["indicator"] == "critical"
    assert card["selectionBehavior"] == "at-most-one"
    (suggestion,) = card["suggestions"]
    assert suggestion["isRecommended"] is True
    assert suggestion["actions"] == [{"type": "delete", "resourceId": "MedicationRequest/mr-1",
                                      "description": "Remove the draft order "
                                                     "MedicationRequest/mr-1"}]
    assert "draft order" in card["detail"]
    # ibuprofen + lisinopril were there before: not this order's business


async def test_order_select_checks_the_selection_against_the_rest(cds: Harness) -> None:
    body = order_hook("order-select", [draft("mr-1", "Rifampicin"), draft("mr-2",
                                                                          "Dolutegravir")],
                      medications=[], selections=["MedicationRequest/mr-2"])
    (card,) = await _call(cds, body)
    (suggestion,) = card["suggestions"]  # only the selected draft is being decided on
    assert suggestion["actions"][0]["resourceId"] == "MedicationRequest/mr-2"
    not_selected = order_hook("order-select", [draft("mr-1", "Rifampicin"),
                                               draft("mr-2", "paracetamol")],
                              medications=[], selections=["MedicationRequest/mr-2"])
    assert await _call(cds, not_selected) == []


async def test_same_hook_instance_gives_the_same_card_uuids(cds: Harness) -> None:
    body = patient_view(medications=["rifampicin", "dolutegravir"])
    first = await _call(cds, body)
    again = await _call(cds, body)
    assert [c["uuid"] for c in first] == [c["uuid"] for c in again]


async def test_the_call_is_audited_with_patient_and_service(cds: Harness) -> None:
    response = await cds.client.post(PATHS[0], json=patient_view(
        "p-audit", medications=["rifampicin"]), headers=cds.auth("clinician", sub="dr-a"))
    assert response.status_code == 200
    events = (await cds.client.get("/api/admin/audit-events?patient_id=p-audit",
                                   headers=cds.auth("admin"))).json()["data"]["items"]
    executed = [e for e in events if e["resource_type"] == "CdsService"]
    assert [(e["resource_id"], e["action"], e["subject"], e["outcome"]) for e in executed] == [
        ("drug-interaction-check", "E", "dr-a", "success")]


async def test_an_order_without_medications_needs_no_data(cds: Harness) -> None:
    service_request = {"resource": {"resourceType": "ServiceRequest", "id": "sr-1",
                                    "status": "draft", "intent": "order",
                                    "subject": {"reference": "Patient/p-123"}}}
    body = {**order_hook("order-sign", [service_request]),
            "fhirServer": "https://ehr.example.org/fhir"}  # not allow-listed, and not needed
    assert await _call(cds, body) == []
