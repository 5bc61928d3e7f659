"""Property-based API tests: schemathesis against /openapi.json of a real server process.

Two passes over every operation schemathesis loads from the live server's /openapi.json:

* with an admin bearer token (admin may do everything): no 5xx, only documented status
  codes, documented content types, bodies and headers that match their schemas;
* without any token, smaller: every operation that declares `security` answers 401 with
  `WWW-Authenticate` whatever the input, public ones still conform, and nothing is a 5xx.

Generation is bounded (max_examples per operation, see below) and deterministic: a fixed
seed plus schemathesis' deterministic mode (Hypothesis `derandomize`), and no example
database, so CI sees the same requests on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support import LiveServer, live_server

pytestmark = pytest.mark.slow

SEED = 20251125
AUTHED_MAX_EXAMPLES = 30
ANONYMOUS_MAX_EXAMPLES = 5
# Every check schemathesis has but positive_data_acceptance: the schema types an HL7 body as a
# string and a FHIR body as an object, so most schema-valid bodies are still not messages or
# resources the gateway can take (a 400/422 for them is right); the schema cannot say more.
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    negative_data_rejection,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Every call is an HTTP round trip to another process: "too slow" is expected, not a bug.
HYPOTHESIS_SETTINGS = settings(
    deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large],
)
# schemathesis.openapi.from_url() leaves out the operation that serves the schema itself.
SCHEMA_ENDPOINT = "GET /openapi.json"


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("schemathesis") / "var") as live:
        yield live


@pytest.fixture(scope="module")
def admin_token(server: LiveServer) -> str:
    return server.token("admin", sub="schemathesis-admin")


def _load_schema(server: LiveServer, max_examples: int) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "base-url": server.base_url,
        "request-timeout": 10,
        "generation": {
            "mode": "all",  # schema-valid and schema-violating inputs
            "max-examples": max_examples,
            "deterministic": True,
            "database": "none",
            # Never invent Authorization headers: each pass decides what it sends.
            "with-security-parameters": False,
        },
    })
    return schemathesis.openapi.from_url(f"{server.base_url}/openapi.json", config=config,
                                         timeout=10)


@pytest.fixture(scope="module")
def authed_schema(server: LiveServer) -> schemathesis.BaseSchema:
    return _load_schema(server, AUTHED_MAX_EXAMPLES)


@pytest.fixture(scope="module")
def anonymous_schema(server: LiveServer) -> schemathesis.BaseSchema:
    return _load_schema(server, ANONYMOUS_MAX_EXAMPLES)


@pytest.fixture(autouse=True)
def _schemathesis_pytest9_compat(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy `from_fixture` schemas read and write `request.node._nodeid`
    to label sub-tests; pytest 9.2 keeps the id elsewhere and the attribute is gone, so the
    lazy test dies with AttributeError before sending a request. Give it one to use (only
    the cosmetic node id is affected; sub-test failures still carry the operation label)."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def _protected(case: schemathesis.Case) -> bool:
    return bool(case.operation.definition.raw.get("security"))


def _describe(case: schemathesis.Case, response: Any) -> str:
    return (f"{case.operation.label}\n  request: {case.as_curl_command()}\n"
            f"  response: {response.status_code} {response.text[:300]}")


authed = schemathesis.pytest.from_fixture("authed_schema")
anonymous = schemathesis.pytest.from_fixture("anonymous_schema")


# ------------------------------------------------------------------ tests


def test_schemathesis_sees_every_documented_operation(
        server: LiveServer, authed_schema: schemathesis.BaseSchema) -> None:
    """Guards the passes below against silently testing nothing."""
    spec = httpx.get(f"{server.base_url}/openapi.json", timeout=10).json()
    documented = {f"{method.upper()} {path}" for path, methods in spec["paths"].items()
                  for method in methods}
    results = list(authed_schema.get_all_operations())
    errors = [result.err() for result in results if not isinstance(result, Ok)]
    assert not errors, f"schemathesis cannot use some operations: {errors}"
    loaded = {result.ok().label for result in results if isinstance(result, Ok)}
    assert loaded == documented - {SCHEMA_ENDPOINT}
    assert len(loaded) >= 15, loaded


@authed.parametrize()
@HYPOTHESIS_SETTINGS
def test_api_conforms_with_admin_token(case: schemathesis.Case, admin_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS)


@anonymous.parametrize()
@HYPOTHESIS_SETTINGS
def test_api_without_token_is_refused(case: schemathesis.Case) -> None:
    assert not any(k.lower() == "authorization" for k in (case.headers or {})), case.headers
    response = case.call_and_validate(checks=CHECKS)
    # The coverage phase also tries methods the path does not serve (TRACE, PATCH, ...);
    # those are routing questions (405), checked above only for "no 5xx".
    if _protected(case) and case.method.upper() == case.operation.method.upper():
        # Authentication comes first: no input, valid or not, gets past a missing token.
        assert response.status_code == 401, _describe(case, response)
        challenge = response.headers.get("www-authenticate") or [""]
        assert challenge[0].startswith("Bearer "), _describe(case, response)
        body = response.json()
        if body.get("resourceType") == "OperationOutcome":  # FHIR routes answer in FHIR
            assert body["issue"][0]["code"] == "login", _describe(case, response)
        else:
            assert body["error"]["code"] == "unauthenticated", _describe(case, response)
