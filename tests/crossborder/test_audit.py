"""Every cross-border lookup is audited: caller, purpose of use, each country asked and its
outcome, the national id as the patient; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.crossborder.conftest import CrossBorder

URL = "/api/fhir/cross-border/Patient/"


async def rows(xb: CrossBorder, request_id: str) -> list[dict[str, Any]]:
    page = await xb.h.client.get("/api/admin/audit-events?limit=200",
                                 headers=xb.h.auth("admin"))
    assert page.status_code == 200, page.text
    return [r for r in page.json()["data"]["items"] if r["request_id"] == request_id]


@pytest.mark.db
async def test_lookup_audit_names_caller_purpose_countries_and_outcomes(
        xb_any_db: CrossBorder) -> None:
    xb = xb_any_db
    xb.proxies["TZ"].set("status", status=500)
    response = await xb.h.client.get(
        URL + "12345678?country=KE,UG,TZ,RW",
        headers={**xb.h.auth("clinician", sub="dr-amina"), "X-Purpose-Of-Use": "ETREAT"})
    assert response.status_code == 200
    found = await rows(xb, response.headers["x-request-id"])
    by_country = {r["resource_id"].split("|")[0]: r for r in found}
    assert set(by_country) == {"KE", "UG", "TZ", "RW"}
    assert {c: r["outcome"] for c, r in by_country.items()} == {
        "KE": "success", "UG": "success", "TZ": "failure", "RW": "failure"}
    assert all(r["patient_id"] == "12345678" and r["resource_type"] == "CrossBorderPatient"
               and r["subject"] == "dr-amina" and r["purpose"] == "ETREAT"
               and r["surface"] == "rest" and r["action"] == "R" for r in found)


@pytest.mark.db
async def test_purpose_parameter_default_and_not_found(xb_any_db: CrossBorder) -> None:
    xb = xb_any_db
    default = await xb.h.client.get(URL + "00000000?country=KE",
                                    headers=xb.h.auth("clinician"))
    [row] = await rows(xb, default.headers["x-request-id"])
    assert (row["purpose"], row["outcome"], row["patient_id"]) == (
        "TREAT", "not_found", "00000000")
    named = await xb.h.client.get(URL + "12345678?country=KE&purpose=PUBHLTH",
                                  headers=xb.h.auth("integrator"))
    [row] = await rows(xb, named.headers["x-request-id"])
    assert (row["purpose"], row["outcome"]) == ("PUBHLTH", "success")


@pytest.mark.db
async def test_refused_and_denied_lookups_are_audited(xb_any_db: CrossBorder) -> None:
    xb = xb_any_db
    unknown = await xb.h.client.get(URL + "12345678?country=XX", headers=xb.h.auth("clinician"))
    assert unknown.status_code == 400
    [row] = await rows(xb, unknown.headers["x-request-id"])
    assert (row["outcome"], row["patient_id"]) == ("failure", "12345678")
    denied = await xb.h.client.get(URL + "12345678?country=KE", headers=xb.h.auth("billing"))
    assert denied.status_code == 403
    assert any(r["outcome"] == "denied" for r in await rows(xb, denied.headers["x-request-id"]))


@pytest.mark.db
async def test_denials_name_the_national_id(xb_any_db: CrossBorder) -> None:
    xb = xb_any_db
    denied = await xb.h.client.get(URL + "12345678?country=KE", headers=xb.h.auth("billing"))
    assert denied.status_code == 403
    [row] = await rows(xb, denied.headers["x-request-id"])
    assert (row["outcome"], row["patient_id"]) == ("denied", "12345678")
    imported = await xb.h.client.post(URL + "12345678/$import?country=KE",
                                      headers=xb.h.auth("lab"))
    assert imported.status_code == 403
    [row] = await rows(xb, imported.headers["x-request-id"])
    assert (row["outcome"], row["patient_id"]) == ("denied", "12345678")
    response = await xb.h.client.post("/graphql", headers=xb.h.auth("billing"), json={
        "query": '{ crossBorderPatients(nationalId: "12345678", countries: ["KE"]) '
                 "{ __typename } }"})
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    [row] = await rows(xb, response.headers["x-request-id"])
    assert (row["outcome"], row["patient_id"], row["surface"]) == ("denied", "12345678",
                                                                   "graphql")
    assert all(p.seen == 0 for p in xb.proxies.values())
