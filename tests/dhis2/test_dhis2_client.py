"""The DHIS2 client over real HTTP against the stand-in: summaries in both shapes, conflicts
value by value, re-pushes that update, and the failures that retry or dead-letter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.dhis2.client import Dhis2Client, Dhis2Credentials
from adapters.http.outbound import OutboundPolicy, build_http_client
from resolvers.public_health.dhis2.model import (
    DataValue,
    DataValueSet,
    Dhis2Refused,
    Dhis2Unavailable,
    ImportStrategy,
)
from tests.dhis2.fake_dhis2 import FakeDhis2, serving

MAL_CONF, MAL_TESTS = "vq2qO3eTrNi", "hfdmMSPBgLG"
F_5_14, M_5_14 = "rQLFnNXXIL0", "GuJESuyOCMW"
KISUMU = "OU_KISUMU_01"


def _instance() -> FakeDhis2:
    return FakeDhis2(data_elements={MAL_CONF: "INTEGER_ZERO_OR_POSITIVE", MAL_TESTS: "NUMBER"},
                     org_units={KISUMU: {"name": "Kisumu County Referral", "level": 4}},
                     category_option_combos={"HllvX50cXC0", F_5_14, M_5_14},
                     data_sets={"MAL_QUARTERLY": {"name": "Malaria quarterly",
                                                  "periodType": "Quarterly",
                                                  "dataElements": [MAL_CONF, MAL_TESTS]}})


@pytest.fixture
async def dhis2() -> AsyncIterator[FakeDhis2]:
    async with serving(_instance()) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    client = build_http_client(OutboundPolicy(["127.0.0.1"]), 5.0)
    try:
        yield client
    finally:
        await client.aclose()


def _values(f: str = "42", m: str = "17") -> DataValueSet:
    return DataValueSet(period="2026Q1", org_unit=KISUMU, data_set="MAL_QUARTERLY",
                        complete_date="2026-04-03", values=(
                            DataValue(MAL_CONF, f, category_option_combo=F_5_14),
                            DataValue(MAL_CONF, m, category_option_combo=M_5_14)))


async def test_push_imports_then_a_repush_updates_and_creates_nothing(
        dhis2: FakeDhis2, http: httpx.AsyncClient) -> None:
    client = Dhis2Client(http, dhis2.base_url, Dhis2Credentials(api_token=dhis2.api_token))
    first = await client.push_data_values(_values())
    assert (first.status, first.imported, first.updated, first.http_status) == (
        "SUCCESS", 2, 0, 200)
    assert first.complete_success and len(dhis2.values) == 2
    again = await client.push_data_values(_values(f="43"))
    assert (again.imported, again.updated, again.ignored) == (0, 1, 1)
    assert len(dhis2.values) == 2 and dhis2.values[
        (MAL_CONF, "2026Q1", KISUMU, F_5_14, "HllvX50cXC0")] == "43"
    sent = dhis2.requests[-1]
    assert sent[2]["authorization"] == f"ApiToken {dhis2.api_token}"
    assert sent[3]["dataValues"][0] == {"dataElement": MAL_CONF, "value": "43",
                                        "categoryOptionCombo": F_5_14}


async def test_conflicts_are_a_partial_failure_value_by_value(
        dhis2: FakeDhis2, http: httpx.AsyncClient) -> None:
    client = Dhis2Client(http, dhis2.base_url, Dhis2Credentials("admin", "district"))
    summary = await client.push_data_values(_values(m="-3"))  # the documented 409 example
    assert summary.http_status == 409 and summary.status == "WARNING"
    assert (summary.imported, summary.ignored) == (1, 1) and not summary.complete_success
    (conflict,) = summary.conflicts
    assert (conflict.error_code, conflict.object, conflict.indexes) == ("E7619", MAL_CONF, (1,))
    unknown = DataValueSet(period="2026Q1", org_unit="OU_NOWHERE", values=(
        DataValue("NOT_AN_ELEMENT", "1"), DataValue(MAL_CONF, "1")))
    refused = await client.push_data_values(unknown)
    assert refused.status == "ERROR" and refused.imported == 0
    assert {c.error_code for c in refused.conflicts} == {"E7610", "E7612"}


async def test_dry_run_and_strategies_store_nothing_unasked(
        dhis2: FakeDhis2, http: httpx.AsyncClient) -> None:
    client = Dhis2Client(http, dhis2.base_url, Dhis2Credentials(api_token=dhis2.api_token))
    dry = await client.push_data_values(_values(), dry_run=True)
    assert dry.imported == 2 and dhis2.values == {}
    update_only = await client.push_data_values(_values(), strategy=ImportStrategy.UPDATE)
    assert update_only.ignored == 2 and dhis2.values == {}
    await client.push_data_values(_values())
    deleted = await client.push_data_values(_values(), strategy=ImportStrategy.DELETE)
    assert deleted.deleted == 2 and dhis2.values == {}


async def test_older_servers_bare_summary_is_read_too(
        dhis2: FakeDhis2, http: httpx.AsyncClient) -> None:
    dhis2.legacy = True
    client = Dhis2Client(http, dhis2.base_url, Dhis2Credentials(api_token=dhis2.api_token))
    summary = await client.push_data_values(_values(m="x"))
    assert summary.http_status == 200 and summary.status == "WARNING"
    assert summary.imported == 1 and summary.conflicts[0].error_code == "E7619"


async def test_credentials_refused_is_not_retried(dhis2: FakeDhis2,
                                                 http: httpx.AsyncClient) -> None:
    client = Dhis2Client(http, dhis2.base_url, Dhis2Credentials("admin", "wrong"))
    with pytest.raises(Dhis2Refused) as refused:
        await client.push_data_values(_values())
    assert refused.value.status == 401 and not refused.value.retry
    assert dhis2.values == {}


async def test_outages_and_slow_answers_are_retried(dhis2: FakeDhis2,
                                                   http: httpx.AsyncClient) -> None:
    client = Dhis2Client(http, dhis2.base_url, Dhis2Credentials(api_token=dhis2.api_token),
                         timeout_seconds=0.3)
    dhis2.fail("/api/dataValueSets", 500)
    with pytest.raises(Dhis2Unavailable) as down:
        await client.push_data_values(_values())
    assert down.value.status == 500 and down.value.retry
    dhis2.slow("/api/dataValueSets", 2.0)
    with pytest.raises(Dhis2Unavailable, match="did not answer"):
        await client.push_data_values(_values())
    assert (await client.push_data_values(_values())).imported == 2  # the next one goes
    assert (await client.system_info())["version"] == "2.40.3"
