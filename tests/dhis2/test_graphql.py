"""GraphQL: dhis2Indicators (the export's values), pushToDhis2 and dhis2Push; the same use
cases and the same numbers as REST (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.dhis2.fake_dhis2 import FakeDhis2, serving
from tests.dhis2.support import KISUMU, dhis2_gateway, seed, stand_in
from tests.support import Harness

pytestmark = pytest.mark.db

INDICATORS = """query($period: String) { dhis2Indicators(dataset: "malaria_rdt", period: $period) {
  dataSet key period periodType start end
  dataValues { indicator dataElement categoryOptionCombo period orgUnit value } } }"""
PUSH = """mutation($input: PushToDhis2Input!) { pushToDhis2(input: $input) {
  __typename
  ... on Dhis2Push { id state dryRun importStrategy }
  ... on UserError { message code }
  ... on ValidationError { problems { field message } } } }"""
STATE = """query($id: ID!) { dhis2Push(id: $id) { state attempts lastError
  summary { status httpStatus imported updated ignored conflicts { errorCode object } } } }"""


@pytest.fixture
async def fake() -> AsyncIterator[FakeDhis2]:
    async with serving(stand_in()) as running:
        yield running


@pytest.fixture
async def seeded(tmp_path: Path, database_url: str, fake: FakeDhis2) -> AsyncIterator[Harness]:
    async with dhis2_gateway(tmp_path, database_url, fake) as h:
        await seed(h)
        yield h


async def test_indicators_match_the_rest_export(seeded: Harness) -> None:
    body = await seeded.gql(INDICATORS, {"period": "2026W10"}, roles=("public_health",))
    assert "errors" not in body, body
    (part,) = body["data"]["dhis2Indicators"]
    assert (part["dataSet"], part["key"], part["period"], part["periodType"], part["start"],
            part["end"]) == ("MalRdtWk001", "malaria_rdt", "2026W10", "Weekly", "2026-03-02",
                             "2026-03-09")
    graphql = {(v["orgUnit"], v["indicator"]): v["value"] for v in part["dataValues"]}
    assert graphql[(KISUMU, "MAL_RDT_POSITIVITY")] == "60.0"
    rest = (await seeded.client.get("/api/public-health/dhis2-export", params={
        "dataset": "malaria_rdt", "period": "2026W10"},
        headers=seeded.auth("public_health"))).json()
    assert sorted((v["orgUnit"], v["dataElement"], v["value"]) for v in rest["dataValues"]) == \
        sorted((v["orgUnit"], v["dataElement"], v["value"]) for v in part["dataValues"])
    refused = await seeded.gql(INDICATORS, roles=("clinician",))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def _state(h: Harness, push_id: str) -> dict[str, Any]:
    for _ in range(200):
        found = (await h.gql(STATE, {"id": push_id}, roles=("public_health",)))["data"]
        if found["dhis2Push"]["state"] not in ("QUEUED", "RETRYING"):
            return dict(found["dhis2Push"])
        await asyncio.sleep(0.05)
    raise AssertionError("the push did not settle")


async def test_push_and_follow_it(seeded: Harness, fake: FakeDhis2) -> None:
    body = await seeded.gql(PUSH, {"input": {"dhis2Url": fake.base_url, "dataset": "malaria_rdt",
                                             "period": "2026W10", "orgUnit": KISUMU,
                                             "importStrategy": "CREATE"}},
                            roles=("public_health",))
    pushed = body["data"]["pushToDhis2"]
    assert (pushed["__typename"], pushed["state"], pushed["importStrategy"]) == (
        "Dhis2Push", "QUEUED", "CREATE"), body
    done = await _state(seeded, pushed["id"])
    assert done["state"] == "SUCCESS" and done["summary"]["imported"] == 3, done
    missing = await seeded.gql(STATE, {"id": "nope"}, roles=("public_health",))
    assert missing["data"]["dhis2Push"] is None


async def test_typed_refusals(seeded: Harness) -> None:
    body = await seeded.gql(PUSH, {"input": {"dhis2Url": "https://elsewhere.example",
                                             "dataset": "malaria_rdt"}},
                            roles=("public_health",))
    refused = body["data"]["pushToDhis2"]
    assert refused["__typename"] == "ValidationError"
    assert refused["problems"] == [{"field": "dhis2_url",
                                    "message": "not a configured instance"}]
    body = await seeded.gql(PUSH, {"input": {"dhis2Url": "x", "dataset": "malaria_rdt"}},
                            roles=("clinician",))
    assert body["data"]["pushToDhis2"]["__typename"] == "ForbiddenError"
