"""Where the services' data come from: the prefetch (the medications Bundle; an
OperationOutcome counts as not prefetched), the EHR's FHIR server named in the request
(fhirServer + fhirAuthorization, over real HTTP, allow-listed; otherwise 412), the gateway's
own FHIR store; pregnancy evidence from Conditions read the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.cds_hooks.fakes import FakeChecker
from tests.cds_hooks.support import (
    cds_gateway,
    cds_settings,
    checked_cards,
    draft,
    order_hook,
    outcome_field,
    patient_view,
)
from tests.support import Harness, serving_app

PATH = "/cds-services/drug-interaction-check"
PREGNANT = {"resourceType": "Condition", "id": "c-1", "subject": {"reference": "Patient/p-123"},
            "clinicalStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                "code": "active"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "77386006"}]}}


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"resource": r} for r in resources]}


def _active(rid: str, text: str) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active",
            "intent": "order", "subject": {"reference": "Patient/p-123"},
            "medicationCodeableConcept": {"text": text}}


@pytest.fixture
def checker() -> FakeChecker:
    return FakeChecker()


@pytest.fixture
async def gateway(tmp_path: Path, sqlite_url: str,
                  checker: FakeChecker) -> AsyncIterator[Harness]:
    async with cds_gateway(cds_settings(tmp_path, sqlite_url), checker) as harness:
        yield harness


async def _post(h: Harness, body: dict[str, Any]) -> Any:
    return await h.client.post(PATH, json=body, headers=h.auth("clinician"))


async def test_prefetched_medications_are_used(gateway: Harness) -> None:
    body = order_hook("order-sign", [draft("mr-1", "Dolutegravir")])
    body["prefetch"] = {"medications": _bundle(_active("a-1", "Rifampicin 300 mg")),
                        "conditions": _bundle(), "pregnancy": None}
    (card,) = checked_cards(await _post(gateway, body))
    assert "(MedicationRequest/a-1)" in card["detail"]


async def test_a_failed_prefetch_counts_as_not_prefetched(gateway: Harness) -> None:
    patient = (await gateway.create_patient())["id"]
    stored = await gateway.client.post("/api/fhir/MedicationRequest", json={
        **{k: v for k, v in _active("", "Rifampicin").items() if k != "id"},
        "subject": {"reference": f"Patient/{patient}"}}, headers={
        **gateway.auth("clinician"), "Content-Type": "application/fhir+json"})
    assert stored.status_code == 201, stored.text
    body = order_hook("order-sign", [draft("mr-1", "Dolutegravir")], patient=patient)
    body["prefetch"] = {"medications": {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "timeout"}]}}
    (card,) = checked_cards(await _post(gateway, body))  # read from the store instead
    assert f"(MedicationRequest/{stored.json()['id']})" in card["detail"]
    body["prefetch"] = {"medications": None}  # null: the client's search found nothing
    assert checked_cards(await _post(gateway, body)) == []


async def test_pregnancy_from_prefetched_conditions(gateway: Harness) -> None:
    body = patient_view(medications=["valproate"],
                        prefetch={"conditions": _bundle(PREGNANT), "pregnancy": _bundle()})
    (card,) = checked_cards(await _post(gateway, body))
    assert card["indicator"] == "critical" and card["source"]["topic"]["code"] == "pregnancy"
    not_pregnant = patient_view(medications=["valproate"], prefetch={"conditions": _bundle()})
    assert checked_cards(await _post(gateway, not_pregnant)) == []


async def test_the_record_is_read_for_pregnancy_only_when_it_matters(tmp_path: Path,
                                                                       sqlite_url: str) -> None:
    ehr = EhrFhir()
    async with serving_app(ehr.app()) as base, cds_gateway(cds_settings(
            tmp_path, sqlite_url)) as h:
        # Medications sent, none with a pregnancy rule: the FHIR server is not needed.
        body = {**patient_view(medications=["rifampicin", "dolutegravir"]),
                "fhirServer": f"{base}/fhir"}
        assert len(checked_cards(await _post(h, body))) == 1
        # Valproate has one: the Conditions are needed and the server is not allowed.
        body["context"]["medications"] = ["valproate"]
        response = await _post(h, body)
        assert response.status_code == 412
        assert "Condition" in response.json()["issue"][0]["diagnostics"]
    assert ehr.seen == []


async def test_the_gateway_store_when_nothing_is_prefetched(gateway: Harness) -> None:
    patient = (await gateway.create_patient())["id"]
    for resource in (
            {**_active("", "Rifampicin"), "subject": {"reference": f"Patient/{patient}"}},
            {**PREGNANT, "subject": {"reference": f"Patient/{patient}"}}):
        resource.pop("id")
        stored = await gateway.client.post(f"/api/fhir/{resource['resourceType']}",
                                           json=resource, headers={
                                               **gateway.auth("clinician"),
                                               "Content-Type": "application/fhir+json"})
        assert stored.status_code == 201, stored.text
    body = order_hook("order-sign", [draft("mr-1", "Dolutegravir"), draft("mr-2",
                                                                          "Valproate")],
                      patient=patient)
    cards = checked_cards(await _post(gateway, body))
    assert {c["source"]["topic"]["code"] for c in cards} == {"interaction", "pregnancy"}


class EhrFhir:
    """An EHR's FHIR server: searches answer Bundles to the right bearer token only."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.seen: list[tuple[str, str, str]] = []

    async def search(self, request: Request) -> Response:
        kind = request.path_params["type"]
        self.seen.append((kind, str(request.query_params),
                          request.headers.get("authorization", "")))
        if request.headers.get("authorization") != "Bearer ehr-token":
            return Response(status_code=401)
        if self.status != 200:
            return Response(status_code=self.status)
        found = {"MedicationRequest": [_active("e-1", "Rifampicin")],
                 "Condition": [PREGNANT]}.get(kind, [])
        return JSONResponse(_bundle(*found))

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/fhir/{type}", self.search)])


def _from_ehr(base: str, **body: Any) -> dict[str, Any]:
    return {**order_hook("order-sign", [draft("mr-1", "Dolutegravir"),
                                        draft("mr-2", "Valproate")]),
            "fhirServer": f"{base}/fhir",
            "fhirAuthorization": {"access_token": "ehr-token", "token_type": "Bearer",
                                  "expires_in": 300, "scope": "patient/*.read",
                                  "subject": "cari-cds"}, **body}


async def test_the_ehr_fhir_server_with_its_token(tmp_path: Path, sqlite_url: str) -> None:
    ehr = EhrFhir()
    async with serving_app(ehr.app()) as base:
        settings = replace(cds_settings(tmp_path, sqlite_url),
                           outbound_allowlist=("127.0.0.1",))
        async with cds_gateway(settings) as h:
            pregnancy, interaction = checked_cards(await _post(h, _from_ehr(base)))
            assert "(MedicationRequest/e-1)" in interaction["detail"]
            assert pregnancy["source"]["topic"]["code"] == "pregnancy"  # the EHR's Condition
    kinds = sorted(kind for kind, _query, _auth in ehr.seen)
    assert kinds == ["Condition", "MedicationRequest", "Observation"]
    assert all(auth == "Bearer ehr-token" for *_, auth in ehr.seen)
    assert any("patient=p-123" in q and "status=active" in q for _k, q, _a in ehr.seen)


async def test_an_ehr_fhir_server_not_allowed_is_412(tmp_path: Path, sqlite_url: str) -> None:
    ehr = EhrFhir()
    async with serving_app(ehr.app()) as base, cds_gateway(cds_settings(
            tmp_path, sqlite_url)) as h:
        response = await _post(h, _from_ehr(base))
        assert response.status_code == 412, response.text
        assert "allow-list" in response.json()["issue"][0]["diagnostics"]
        assert outcome_field(response) == ""
        # Everything prefetched: the server is not needed, so its address does not matter.
        ok = await _post(h, _from_ehr(base, prefetch={
            "medications": _bundle(), "conditions": _bundle(), "pregnancy": _bundle()}))
        assert ok.status_code == 200
    assert ehr.seen == []  # nothing was sent to an address not allowed


async def test_an_ehr_fhir_server_failing_is_412(tmp_path: Path, sqlite_url: str) -> None:
    async with serving_app(EhrFhir(status=500).app()) as base:
        settings = replace(cds_settings(tmp_path, sqlite_url),
                           outbound_allowlist=("127.0.0.1",))
        async with cds_gateway(settings) as h:
            response = await _post(h, _from_ehr(base))
            assert response.status_code == 412
            assert "answered 500" in response.json()["issue"][0]["diagnostics"]
