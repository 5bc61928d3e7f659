"""Property-based API tests: schemathesis against /openapi.json of a real server process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from tests.support import LiveServer, live_server

pytestmark = pytest.mark.slow

SEED = 20251125
CHECKS: list[CheckFunction] = [
    not_a_server_error, status_code_conformance, content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("schemathesis") / "var") as live:
        yield live


@pytest.fixture(scope="module")
def admin_token(server: LiveServer) -> str:
    return server.token("admin")


def _schema(server: LiveServer, max_examples: int) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "base-url": server.base_url,
        "generation": {"deterministic": True, "max-examples": max_examples,
                       "database": "none", "with-security-parameters": False},
        "request-timeout": 10,
    })
    return schemathesis.openapi.from_url(f"{server.base_url}/openapi.json", config=config,
                                         timeout=10)


@pytest.fixture(scope="module")
def authed_schema(server: LiveServer) -> schemathesis.BaseSchema:
    return _schema(server, 30)


authed = schemathesis.pytest.from_fixture("authed_schema")


@authed.parametrize()
@settings(deadline=None, derandomize=True, database=None, max_examples=30,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_with_admin_token(case: schemathesis.Case, admin_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS)


@pytest.fixture(autouse=True)
def _nodeid_shim(request: pytest.FixtureRequest) -> None:
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
