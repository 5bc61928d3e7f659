"""POST /api/public-health/dhis2-push through the outbox to the DHIS2 stand-in over real HTTP:
success, a re-push that updates, a 409 partial failure value by value, a 401 dead letter,
a 500 retried, dryRun; configured instances and the allow-list only. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.settings.dhis2 import Dhis2InstanceSettings
from tests.dhis2.fake_dhis2 import FakeDhis2, serving
from tests.dhis2.support import (
    HOMABAY,
    KISUMU,
    POSITIVE,
    POSITIVITY,
    SIAYA,
    TESTED,
    coded,
    dhis2_gateway,
    rdt,
    seed,
    settled,
    stand_in,
)
from tests.support import Harness

pytestmark = pytest.mark.db
URL = "/api/public-health/dhis2-push"
WEEK = {"dataset": "malaria_rdt", "period": "2026W10"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeDhis2]:
    async with serving(stand_in()) as running:
        yield running


@pytest.fixture
async def gateway(tmp_path: Path, database_url: str,
                  fake: FakeDhis2) -> AsyncIterator[tuple[Harness, dict[str, str]]]:
    async with dhis2_gateway(tmp_path, database_url, fake) as h:
        yield h, await seed(h)


async def _push(h: Harness, fake: FakeDhis2, **body: Any) -> dict[str, Any]:
    r = await h.client.post(URL, json={"dhis2_url": fake.base_url, **WEEK, **body},
                            headers=h.auth("public_health"))
    assert r.status_code == 202, r.text
    data: dict[str, Any] = r.json()["data"]
    assert data["state"] == "queued"
    return data


async def test_push_then_a_repush_updates_and_creates_nothing(
        gateway: tuple[Harness, dict[str, str]], fake: FakeDhis2) -> None:
    h, people = gateway
    first = await settled(h, (await _push(h, fake))["id"])
    assert first["state"] == "success", first
    assert first["summary"]["import_count"] == {"imported": 8, "updated": 0, "ignored": 0,
                                                "deleted": 0}
    assert fake.values[(TESTED, "2026W10", KISUMU, "HllvX50cXC0", "HllvX50cXC0")] == "5"
    assert fake.values[(POSITIVITY, "2026W10", KISUMU, "HllvX50cXC0", "HllvX50cXC0")] == "60.0"
    sent = fake.requests[-1]
    assert sent[2]["authorization"] == f"ApiToken {fake.api_token}"
    assert sent[3]["dataSet"] == "MalRdtWk001"
    # One more positive in Kisumu that week: three of its values change, nothing is new.
    await rdt(h, people["kisumu"], "2026-03-07T09:00:00Z", **coded("10828004"))
    again = await settled(h, (await _push(h, fake))["id"])
    assert again["state"] == "success", again
    assert again["summary"]["import_count"] == {"imported": 0, "updated": 3, "ignored": 5,
                                                "deleted": 0}
    assert len(fake.values) == 8
    assert fake.values[(POSITIVE, "2026W10", KISUMU, "HllvX50cXC0", "HllvX50cXC0")] == "4"
    assert fake.values[(POSITIVITY, "2026W10", KISUMU, "HllvX50cXC0", "HllvX50cXC0")] == "66.7"


async def test_one_org_unit_and_dry_run(gateway: tuple[Harness, dict[str, str]],
                                        fake: FakeDhis2) -> None:
    h, _ = gateway
    done = await settled(h, (await _push(h, fake, org_unit=SIAYA, dryRun=True))["id"])
    assert done["state"] == "success" and done["dry_run"]
    assert done["summary"]["import_count"]["imported"] == 3
    assert fake.values == {}  # validated, nothing saved
    assert fake.requests[-1][3]["orgUnit"] == SIAYA


async def test_conflicts_are_a_partial_failure_value_by_value(
        tmp_path: Path, database_url: str) -> None:
    async with serving(stand_in(org_units=(KISUMU, SIAYA))) as fake, \
            dhis2_gateway(tmp_path, database_url, fake) as h:  # Homa Bay unknown to DHIS2
        await seed(h)
        done = await settled(h, (await _push(h, fake))["id"])
    assert done["state"] == "partial", done
    summary = done["summary"]
    assert summary["http_status"] == 409 and summary["status"] == "WARNING"
    assert summary["import_count"]["imported"] == 6 and summary["import_count"]["ignored"] == 2
    assert {(c["error_code"], c["object"]) for c in summary["conflicts"]} == {("E7612", HOMABAY)}
    sent = done["data_value_set"]["dataValues"]
    assert sorted(i for c in summary["conflicts"] for i in c["indexes"]) == [
        i for i, v in enumerate(sent) if v["orgUnit"] == HOMABAY]


async def test_refused_credentials_are_a_dead_letter(tmp_path: Path, database_url: str) -> None:
    async with serving(stand_in()) as fake, dhis2_gateway(
            tmp_path, database_url, fake, api_token="d2pat_wrong") as h:
        await seed(h)
        done = await settled(h, (await _push(h, fake))["id"])
        dead = await h.client.get("/api/admin/outbox", params={"status": "dead",
                                                               "destination": "dhis2"},
                                  headers=h.auth("admin"))
    assert done["state"] == "dead" and done["attempts"] == 1
    assert "401" in done["last_error"] and "credentials were refused" in done["last_error"]
    assert fake.values == {}
    assert len(dead.json()["data"]["items"]) == 1


async def test_a_server_error_is_retried(gateway: tuple[Harness, dict[str, str]],
                                         fake: FakeDhis2) -> None:
    h, _ = gateway
    fake.fail("/api/dataValueSets", 500, times=2)
    done = await settled(h, (await _push(h, fake))["id"])
    assert done["state"] == "success" and done["attempts"] == 3, done
    assert done["last_error"] is None
    assert len(fake.values) == 8


async def test_only_configured_allow_listed_instances(tmp_path: Path, database_url: str) -> None:
    elsewhere = Dhis2InstanceSettings("other", "https://dhis2.example.org", api_token="d2pat_x")
    async with serving(stand_in()) as fake, dhis2_gateway(
            tmp_path, database_url, fake, extra_instances=(elsewhere,)) as h:
        auth = h.auth("public_health")
        for url, message in (("http://127.0.0.1:9/", "configured"),
                             ("https://dhis2.example.org", "allow-list")):
            r = await h.client.post(URL, json={"dhis2_url": url, **WEEK}, headers=auth)
            assert r.status_code == 422, r.text
            assert message in r.json()["error"]["message"]
        r = await h.client.post(URL, json={"dhis2_url": fake.base_url, **WEEK,
                                           "username": "admin"}, headers=auth)
        assert r.status_code == 422  # credentials are never taken from a request
        r = await h.client.post(URL, json={"dhis2_url": fake.base_url, **WEEK},
                                headers=h.auth("clinician"))
        assert r.status_code == 403
        r = await h.client.get(f"{URL}/nope", headers=auth)
        assert r.status_code == 404
    assert fake.requests == []


async def test_the_outbox_giving_up_makes_the_push_dead(tmp_path: Path,
                                                       database_url: str) -> None:
    async with serving(stand_in()) as fake, dhis2_gateway(
            tmp_path, database_url, fake, outbox_max_attempts=2) as h:
        await seed(h)
        fake.fail("/api/dataValueSets", 503, times=5)
        done = await settled(h, (await _push(h, fake))["id"])
    assert done["state"] == "dead" and done["attempts"] == 2, done
    assert done["last_error"].startswith("gave up after 2 attempts: DHIS2 answered 503")
    assert fake.values == {}
