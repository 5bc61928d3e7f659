"""Federation 2: the real server's subgraph SDL composes, and Apollo Gateway can query it.

These tests start `cli.py serve` as a process and run the Node harness in
tests/federation (see its README). `make test` installs its node_modules; when they
are missing the tests fail (they do not skip), so a CI that forgot `npm ci` is noticed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.auth.keys import generate_key_pair
from adapters.auth.tokens import TokenIssuer
from tests.support import ROOT, LiveServer, live_server

pytestmark = pytest.mark.slow

FEDERATION_DIR = ROOT / "tests" / "federation"
SDL_QUERY = "{ _service { sdl } }"
PATIENT_QUERY = """
query Q($id: ID!) {
  patient(id: $id) {
    __typename id family managingOrganization { name }
  }
}
"""
ENTITIES_QUERY = """
query E($reps: [_Any!]!) {
  _entities(representations: $reps) { __typename ... on Patient { id family given } }
}
"""


# ------------------------------------------------------------------ helpers


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` (>= 20) is not on PATH; the federation tests need it", pytrace=False)
    if not (FEDERATION_DIR / "node_modules" / "@apollo" / "gateway").is_dir():
        pytest.fail(
            f"{FEDERATION_DIR / 'node_modules'} is missing or incomplete: run `make node` "
            "(or `cd tests/federation && npm ci --no-audit --no-fund`) before the slow tests",
            pytrace=False)
    return node


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _gql(server: LiveServer, token: str, query: str,
         variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{server.base_url}/graphql",
                          json={"query": query, "variables": variables or {}},
                          headers=_bearer(token), timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    return body


def _run_gateway(server: LiveServer, token: str, query: str,
                 variables: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("APOLLO_", "SUBGRAPH_", "GATEWAY_"))}
    env.update(SUBGRAPH_URL=f"{server.base_url}/graphql", SUBGRAPH_TOKEN=token,
               GATEWAY_QUERY=query, GATEWAY_TIMEOUT_MS="45000")
    if variables is not None:
        env["GATEWAY_VARIABLES"] = json.dumps(variables)
    return subprocess.run([_node(), str(FEDERATION_DIR / "gateway.mjs")], env=env,
                          capture_output=True, text=True, timeout=90, check=False)


def _log_tail(server: LiveServer) -> str:
    return server.log_path.read_text(errors="replace")[-3000:]


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("federation") / "var") as live:
        yield live


@pytest.fixture(scope="module")
def admin_token(server: LiveServer) -> str:
    return server.token("admin")


@pytest.fixture(scope="module")
def clinician_token(server: LiveServer) -> str:
    return server.token("clinician", sub="federation-clinician")


@pytest.fixture(scope="module")
def linked_patient(server: LiveServer, admin_token: str,
                   clinician_token: str) -> dict[str, Any]:
    """An organization and a patient it manages, created over REST."""
    org_name = f"Kenyatta National Hospital {uuid.uuid4().hex[:6]}"
    response = httpx.post(f"{server.base_url}/api/organizations", headers=_bearer(admin_token),
                          json={"name": org_name, "country": "KE", "kind": "facility",
                                "identifiers": [{"system": "urn:test:mfl",
                                                 "value": uuid.uuid4().hex}]}, timeout=10)
    assert response.status_code == 201, response.text
    org = response.json()
    assert org["success"] is True, org
    org_id = org["data"]["id"]

    family = f"Otieno-{uuid.uuid4().hex[:6]}"
    response = httpx.post(f"{server.base_url}/api/patients", headers=_bearer(clinician_token),
                          json={"identifiers": [{"system": "urn:test:mrn",
                                                 "value": uuid.uuid4().hex}],
                                "family": family, "given": ["Achieng"],
                                "organization_id": org_id}, timeout=10)
    assert response.status_code == 201, response.text
    patient = response.json()
    assert patient["success"] is True, patient
    assert patient["data"]["organization_id"] == org_id, patient
    return {"id": patient["data"]["id"], "family": family, "org_id": org_id,
            "org_name": org_name}


# ------------------------------------------------------------------ tests


def test_subgraph_sdl_composes_as_federation_2_supergraph(
        server: LiveServer, admin_token: str, tmp_path: Path) -> None:
    node = _node()
    body = _gql(server, admin_token, SDL_QUERY)
    sdl: str = body["data"]["_service"]["sdl"]

    assert re.search(r'type Patient @key\(fields: "id"\)', sdl), sdl
    assert re.search(r'type Organization @key\(fields: "id"\)', sdl), sdl
    link = re.search(r'@link\(url: "https://specs\.apollo\.dev/federation/v2\.(\d+)"', sdl)
    assert link is not None, f"no Federation 2 @link in the SDL:\n{sdl[:500]}"

    # The SDL is not public: the same query without a token is refused.
    anonymous = httpx.post(f"{server.base_url}/graphql", json={"query": SDL_QUERY}, timeout=10)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers.get("www-authenticate", "").lower().startswith("bearer"), \
        anonymous.headers
    assert "_service" not in anonymous.text and "@key" not in anonymous.text

    subgraphs = tmp_path / "subgraphs.json"
    subgraphs.write_text(json.dumps([{"name": "cari", "url": f"{server.base_url}/graphql",
                                      "sdl": sdl}]))
    result = subprocess.run([node, str(FEDERATION_DIR / "compose.mjs"), str(subgraphs)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"stdout={result.stdout}\nstderr={result.stderr}"
    composed = json.loads(result.stdout)
    assert composed["ok"] is True, composed
    supergraph: str = composed["supergraphSdl"]
    patient_type = re.search(r"type Patient\b[^{]*\{", supergraph)
    assert patient_type is not None, supergraph
    assert '@join__type(graph: CARI, key: "id")' in patient_type.group(0), patient_type.group(0)
    organization_type = re.search(r"type Organization\b[^{]*\{", supergraph)
    assert organization_type is not None, supergraph
    assert '@join__type(graph: CARI, key: "id")' in organization_type.group(0)


def test_patient_with_organization_through_apollo_gateway(
        server: LiveServer, clinician_token: str, linked_patient: dict[str, Any]) -> None:
    result = _run_gateway(server, clinician_token, PATIENT_QUERY, {"id": linked_patient["id"]})
    assert result.returncode == 0, (f"gateway failed: {result.stderr}\n"
                                    f"server log:\n{_log_tail(server)}")
    out = json.loads(result.stdout)
    assert out["errors"] is None, out
    assert out["data"]["patient"] == {
        "__typename": "Patient", "id": linked_patient["id"], "family": linked_patient["family"],
        "managingOrganization": {"name": linked_patient["org_name"]},
    }, out

    # An unknown id is not an error: the nullable entity is null, as Apollo clients expect.
    result = _run_gateway(server, clinician_token, PATIENT_QUERY, {"id": str(uuid.uuid4())})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["errors"] is None, out
    assert out["data"] == {"patient": None}, out


def test_entities_resolves_patient_references(
        server: LiveServer, clinician_token: str, linked_patient: dict[str, Any]) -> None:
    """What a gateway sends when another subgraph references a Patient by key."""
    unknown = str(uuid.uuid4())
    body = _gql(server, clinician_token, ENTITIES_QUERY, {"reps": [
        {"__typename": "Patient", "id": linked_patient["id"]},
        {"__typename": "Patient", "id": unknown},
    ]})
    found, missing = body["data"]["_entities"]
    assert found == {"__typename": "Patient", "id": linked_patient["id"],
                     "family": linked_patient["family"], "given": ["Achieng"]}, body
    assert missing is None, body

    # _entities needs a token like everything else on /graphql.
    anonymous = httpx.post(f"{server.base_url}/graphql", timeout=10, json={
        "query": ENTITIES_QUERY,
        "variables": {"reps": [{"__typename": "Patient", "id": linked_patient["id"]}]}})
    assert anonymous.status_code == 401, anonymous.text
    assert linked_patient["family"] not in anonymous.text


@pytest.mark.parametrize("kind", ["foreign-key", "garbage"])
def test_gateway_with_a_wrong_token_cannot_load_the_subgraph(server: LiveServer,
                                                              kind: str) -> None:
    if kind == "foreign-key":
        # Right issuer, audience and shape, but signed by a key the server does not trust.
        wrong = TokenIssuer(generate_key_pair(), "cari-gateway", "cari-gateway").issue(
            "mallory", ["admin"])
    else:
        wrong = "not-a-token"
    result = _run_gateway(server, wrong, "{ __typename }")
    assert result.returncode != 0, result.stdout
    assert result.stdout.strip() == "", result.stdout
    assert "gateway.mjs:" in result.stderr, result.stderr
    assert "401" in result.stderr, result.stderr
