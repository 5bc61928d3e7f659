"""The SMART app registry over GraphQL: the same use case as REST /api/smart/apps."""

from __future__ import annotations

from tests.support import Harness

REGISTER = """mutation($input: SmartAppInput!) { registerSmartApp(input: $input) {
  __typename
  ... on SmartAppRegistration { clientSecret app { clientId name scopes tokenEndpointAuthMethod } }
  ... on ValidationError { message }
  ... on ForbiddenError { message } } }"""


async def test_register_and_list_over_graphql(gateway: Harness) -> None:
    h = gateway
    body = await h.gql(REGISTER, {"input": {
        "name": "Immunisation planner", "redirectUris": ["https://planner.example/cb"],
        "scopes": ["launch", "patient/Immunization.rs"], "confidential": True}})
    result = body["data"]["registerSmartApp"]
    assert result["__typename"] == "SmartAppRegistration", body
    assert result["clientSecret"] and result["app"]["tokenEndpointAuthMethod"] == (
        "client_secret_basic")
    client_id = result["app"]["clientId"]
    rest = await h.client.get(f"/api/smart/apps/{client_id}", headers=h.auth("admin"))
    assert rest.json()["data"]["name"] == "Immunisation planner"
    assert rest.json()["data"]["client_secret"] is None  # shown once only
    listed = await h.gql("{ smartApps { clientId } }")
    assert {"clientId": client_id} in listed["data"]["smartApps"]

    bad = await h.gql(REGISTER, {"input": {"name": "x", "scopes": ["patient/Observation.fly"],
                                           "redirectUris": ["not a url"]}})
    assert bad["data"]["registerSmartApp"]["__typename"] == "ValidationError"
    refused = await h.gql(REGISTER, {"input": {"name": "y", "redirectUris": [
        "https://y.example/cb"]}}, roles=("clinician",))
    assert refused["data"]["registerSmartApp"]["__typename"] == "ForbiddenError"


async def test_confidential_app_uses_its_secret(gateway: Harness) -> None:
    """The secret shown once authenticates the app at the token endpoint (Basic)."""
    h = gateway
    body = await h.gql(REGISTER, {"input": {
        "name": "Confidential", "redirectUris": ["https://c.example/cb"],
        "scopes": ["launch/patient", "patient/*.rs"], "confidential": True}})
    reg = body["data"]["registerSmartApp"]
    client_id, secret = reg["app"]["clientId"], reg["clientSecret"]
    wrong = await h.client.post("/api/smart/token", data={
        "grant_type": "authorization_code", "code": "x", "redirect_uri": "https://c.example/cb",
        "code_verifier": "v" * 43}, auth=(client_id, "not-the-secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    right = await h.client.post("/api/smart/token", data={
        "grant_type": "authorization_code", "code": "x", "redirect_uri": "https://c.example/cb",
        "code_verifier": "v" * 43}, auth=(client_id, secret))
    assert right.status_code == 400 and right.json()["error"] == "invalid_grant"
