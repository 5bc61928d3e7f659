"""GraphQL surface: auth, entities, typed errors, limits, masking, DataLoaders."""

from __future__ import annotations

from typing import Any

from tests.api.test_fhir_rest import observation
from tests.support import Harness, count_queries

PATIENT_Q = """query($id: ID!) { patient(id: $id) {
  __typename id family given birthDate gender identifiers { system value }
  managingOrganization { id name } } }"""


async def test_graphql_without_token_is_401(gateway: Harness) -> None:
    r = await gateway.client.post("/graphql", json={"query": "{ __typename }"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    r = await gateway.client.post("/graphql", json={"query": "{ _service { sdl } }"})
    assert r.status_code == 401


async def test_graphiql_page_is_served_to_browsers(gateway: Harness) -> None:
    r = await gateway.client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "graphiql" in r.text.lower()
    r = await gateway.client.get("/graphql", params={"query": "{ __typename }"})
    assert r.status_code == 401  # a GET query is an operation: it needs a token


async def test_patient_query_with_organization(gateway: Harness) -> None:
    org = await gateway.client.post("/api/organizations", json={"name": "Muhimbili"},
                                    headers=gateway.auth("admin"))
    p = await gateway.create_patient(organization_id=org.json()["data"]["id"],
                                     birth_date="1980-01-02", gender="male")
    body = await gateway.gql(PATIENT_Q, {"id": p["id"]}, roles=("clinician",))
    assert "errors" not in body
    patient = body["data"]["patient"]
    assert patient["__typename"] == "Patient" and patient["family"] == "Mwangi"
    assert patient["birthDate"] == "1980-01-02" and patient["gender"] == "MALE"
    assert patient["managingOrganization"]["name"] == "Muhimbili"


async def test_unknown_patient_is_null(gateway: Harness) -> None:
    body = await gateway.gql(PATIENT_Q, {"id": "does-not-exist"}, roles=("clinician",))
    assert body == {"data": {"patient": None}}


async def test_single_entity_queries_need_no_fragments(gateway: Harness) -> None:
    """`{ patient(id:) { id } }` is the whole query: the entity, or null when absent."""
    assert await gateway.gql('{ patient(id: "x") { id } }', roles=("clinician",)) == {
        "data": {"patient": None}}
    assert await gateway.gql('{ organization(id: "x") { id } }', roles=("admin",)) == {
        "data": {"organization": None}}
    assert await gateway.gql('{ observation(id: "x") { id } }', roles=("clinician",)) == {
        "data": {"observation": None}}

    org = await gateway.client.post("/api/organizations", json={"name": "Mulago"},
                                    headers=gateway.auth("admin"))
    org_id = org.json()["data"]["id"]
    p = await gateway.create_patient(organization_id=org_id)
    obs = await gateway.client.post("/api/fhir/Observation", json=observation(p["id"]),
                                    headers=gateway.auth("clinician"))
    assert obs.status_code == 201, obs.text
    q = 'query($id: ID!) { %s(id: $id) { id } }'
    for field, entity_id, role in (("patient", p["id"], "clinician"),
                                   ("organization", org_id, "admin"),
                                   ("observation", obs.json()["id"], "clinician")):
        body = await gateway.gql(q % field, {"id": entity_id}, roles=(role,))
        assert body == {"data": {field: {"id": entity_id}}}, (field, body)


async def test_unknown_patient_read_is_audited_as_not_found(gateway: Harness) -> None:
    body = await gateway.gql('{ patient(id: "ghost-1") { id } }', roles=("clinician",),
                             sub="nurse-7")
    assert body == {"data": {"patient": None}}
    body = await gateway.gql('{ auditEvents(resourceType: "Patient", outcome: NOT_FOUND) '
                             '{ nodes { subject resourceId action } } }')
    assert {"subject": "nurse-7", "resourceId": "ghost-1", "action": "R"} \
        in body["data"]["auditEvents"]["nodes"], body


async def test_field_permissions(gateway: Harness) -> None:
    body = await gateway.gql("{ auditEvents { nodes { id } } }", roles=("clinician",))
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gateway.gql(PATIENT_Q, {"id": "x"}, roles=())
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["data"] == {"patient": None}  # a nullable field: the error nulls only it


async def test_create_patient_mutation_and_typed_validation_errors(gateway: Harness) -> None:
    m = """mutation($input: PatientInput!) { createPatient(input: $input) {
      __typename ... on Patient { id family version }
      ... on ValidationError { message problems { field message } }
      ... on ConflictError { message } } }"""
    good = {"identifiers": [{"system": "urn:ng:nin", "value": "12345678901"}],
            "family": "Adeyemi", "given": ["Tunde"]}
    body = await gateway.gql(m, {"input": good}, roles=("clinician",))
    assert body["data"]["createPatient"]["__typename"] == "Patient"
    body = await gateway.gql(m, {"input": good}, roles=("clinician",))
    assert body["data"]["createPatient"]["__typename"] == "ConflictError"
    body = await gateway.gql(m, {"input": {"family": "", "phone": "x"}}, roles=("clinician",))
    result = body["data"]["createPatient"]
    assert result["__typename"] == "ValidationError"
    assert {p["field"] for p in result["problems"]} == {"identifiers", "family", "phone"}
    body = await gateway.gql(m, {"input": good}, roles=("billing",))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_update_patient_version_conflict(gateway: Harness) -> None:
    p = await gateway.create_patient()
    m = """mutation($id: ID!, $v: Int) { updatePatient(id: $id, expectedVersion: $v,
           input: {family: "Kariuki"}) { __typename ... on Patient { version family } } }"""
    body = await gateway.gql(m, {"id": p["id"], "v": 5}, roles=("clinician",))
    assert body["data"]["updatePatient"]["__typename"] == "ConflictError"
    body = await gateway.gql(m, {"id": p["id"], "v": 1}, roles=("clinician",))
    assert body["data"]["updatePatient"] == {"__typename": "Patient", "version": 2,
                                             "family": "Kariuki"}


async def test_depth_limit(gateway: Harness) -> None:
    deep = "{ patients { nodes { managingOrganization { __typename } } } }"
    assert "errors" not in await gateway.gql(deep)
    nested = "{ " + "patients { nodes { " * 8 + "id" + " } }" * 8 + " }"
    body = await gateway.gql(nested)
    assert "depth" in body["errors"][0]["message"].lower()


async def test_cost_limit(gateway: Harness) -> None:
    fields = " ".join(f"f{i}: family" for i in range(20))
    costly = "{ patients(first: 200) { nodes { id " + fields + " managingOrganization { id name } } } }"
    body = await gateway.gql(costly)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY" and error["extensions"]["cost"] > 5000
    cheap = "{ patients(first: 10) { nodes { id family } } }"
    assert "errors" not in await gateway.gql(cheap)


async def test_unexpected_errors_are_masked(gateway: Harness, monkeypatch: Any) -> None:
    async def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret internal detail: patient Jane Doe")

    monkeypatch.setattr(gateway.app.state.services.organizations, "search", explode)
    body = await gateway.gql("{ organizations { nodes { id } } }")
    message = body["errors"][0]["message"]
    assert "secret" not in message and "Jane" not in message
    assert message.startswith("Unexpected error")


async def test_fifty_patients_with_organizations_cost_constant_queries(
    quiet_gateway: Harness,
) -> None:
    gateway = quiet_gateway
    orgs = []
    for i in range(5):
        r = await gateway.client.post("/api/organizations", json={"name": f"Clinic {i}"},
                                      headers=gateway.auth("admin"))
        orgs.append(r.json()["data"]["id"])

    async def run(n: int) -> int:
        q = "query($n: Int!) { patients(first: $n) { nodes { id family identifiers { value } " \
            "managingOrganization { id name } } } }"
        with count_queries(*gateway.engines) as counter:
            body = await gateway.gql(q, {"n": n}, roles=("clinician",))
        assert "errors" not in body and len(body["data"]["patients"]["nodes"]) == n
        assert all(node["managingOrganization"] for node in body["data"]["patients"]["nodes"])
        return counter.count

    for i in range(50):
        await gateway.create_patient(organization_id=orgs[i % 5])
    small, large = await run(5), await run(50)
    assert small == large, f"query count grows with the page: {small} vs {large}"
    assert large <= 6


async def test_entities_resolve_through_dataloaders(quiet_gateway: Harness) -> None:
    gateway = quiet_gateway
    patients = [await gateway.create_patient() for _ in range(10)]
    q = """query($r: [_Any!]!) { _entities(representations: $r) {
           ... on Patient { id family } } }"""
    reps = [{"__typename": "Patient", "id": p["id"]} for p in patients]
    with count_queries(*gateway.engines) as counter:
        body = await gateway.gql(q, {"r": reps}, roles=("clinician",))
    assert [e["id"] for e in body["data"]["_entities"]] == [p["id"] for p in patients]
    assert counter.count <= 4  # one batch, not ten lookups


async def test_answers_are_utf8_json_with_names_as_written(gateway: Harness) -> None:
    """The answer is encoded by pydantic-core: non-ASCII names go out as UTF-8, not
    escapes, and decode back to exactly what was registered."""
    p = await gateway.create_patient(family="Ọkàfọ̀r", given=["Ngozi", "Ésaïe"])
    r = await gateway.client.post("/graphql", json={
        "query": "query($id: ID!) { patient(id: $id) { family given } }",
        "variables": {"id": p["id"]}}, headers=gateway.auth("clinician"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert "Ọkàfọ̀r".encode() in r.content and b"\\u" not in r.content
    assert r.json() == {"data": {"patient": {"family": "Ọkàfọ̀r", "given": ["Ngozi", "Ésaïe"]}}}
