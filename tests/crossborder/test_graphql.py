"""crossBorderPatients: the same lookup over GraphQL, with typed per-country outcomes."""

from __future__ import annotations

from tests.crossborder.conftest import CrossBorder

QUERY = """query($id: String!, $countries: [String!], $endpoint: String) {
  crossBorderPatients(nationalId: $id, countries: $countries, hieEndpoint: $endpoint) {
    __typename
    ... on CrossBorderLookup {
      nationalId purpose countries total
      outcomes { country source status failure message warnings
                 patients { id country family given birthDate fullUrl
                            identifiers { system value } } }
    }
    ... on CrossBorderRefusal { message supportedCountries }
  }
}"""


async def test_typed_outcomes_per_country(xb: CrossBorder) -> None:
    xb.proxies["TZ"].set("delay", delay=4.0)
    body = await xb.h.gql(QUERY, {"id": "12345678", "countries": ["KE", "UG", "TZ"]},
                          roles=("clinician",))
    assert "errors" not in body, body
    found = body["data"]["crossBorderPatients"]
    assert found["__typename"] == "CrossBorderLookup" and found["total"] == 2
    assert found["purpose"] == "TREAT" and found["countries"] == ["KE", "UG", "TZ"]
    outcomes = {o["country"]: o for o in found["outcomes"]}
    assert outcomes["KE"]["status"] == "FOUND"
    assert outcomes["KE"]["patients"][0]["family"] == "Odhiambo"
    assert outcomes["KE"]["patients"][0]["identifiers"] == [
        {"system": "https://hie.health.go.ke/fhir/identifier/national-id", "value": "12345678"}]
    assert outcomes["UG"]["patients"][0]["family"] == "Okello"
    assert (outcomes["TZ"]["status"], outcomes["TZ"]["failure"]) == ("FAILED", "TIMEOUT")


async def test_single_country_failure_is_an_outcome_not_an_error(xb: CrossBorder) -> None:
    xb.proxies["KE"].set("status", status=401)
    body = await xb.h.gql(QUERY, {"id": "12345678", "countries": ["KE"]}, roles=("clinician",))
    [outcome] = body["data"]["crossBorderPatients"]["outcomes"]
    assert (outcome["status"], outcome["failure"]) == ("FAILED", "UNAUTHORIZED")
    none = await xb.h.gql(QUERY, {"id": "00000000", "countries": ["UG"]}, roles=("clinician",))
    [outcome] = none["data"]["crossBorderPatients"]["outcomes"]
    assert (outcome["status"], outcome["patients"]) == ("NOT_FOUND", [])


async def test_refusals_are_typed(xb: CrossBorder) -> None:
    body = await xb.h.gql(QUERY, {"id": "12345678", "countries": ["XX"]}, roles=("clinician",))
    refused = body["data"]["crossBorderPatients"]
    assert refused["__typename"] == "CrossBorderRefusal"
    assert refused["supportedCountries"] == ["KE", "GH", "NG", "ZA", "TZ", "UG", "RW", "ET"]
    ssrf = await xb.h.gql(QUERY, {"id": "1", "endpoint": "http://169.254.169.254/x"},
                          roles=("clinician",))
    assert ssrf["data"]["crossBorderPatients"]["__typename"] == "CrossBorderRefusal"


async def test_role_is_required(xb: CrossBorder) -> None:
    body = await xb.h.gql(QUERY, {"id": "12345678", "countries": ["KE"]}, roles=("billing",))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert all(p.seen == 0 for p in xb.proxies.values())
