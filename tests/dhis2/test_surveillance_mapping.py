"""The mapping's surveillance entry: read from the example file, every problem reported."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from adapters.settings.dhis2_mapping import parse_mapping
from resolvers.public_health.surveillance.model import Alert, event_of, event_uid
from tests.dhis2.support import EXAMPLE


def _example() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return raw


def test_example_file_has_the_program() -> None:
    problems: list[str] = []
    found = parse_mapping(_example(), problems).surveillance
    assert problems == []
    assert found is not None and found.program == "EarsAlertPr" and found.method == "C2"
    assert found.data_set == "idsr_weekly" and set(found.data_elements) == {
        "syndrome", "cases", "expected", "statistic", "method"}


def test_every_problem_is_reported() -> None:
    raw = _example()
    raw["surveillance"] = {"program": "bad", "programStage": "EarsAlertSt", "method": "C9",
                           "sdFloor": 0, "dataSet": "nope",
                           "dataElements": {"cases": "EarsCases01", "colour": "EarsColour1"}}
    problems: list[str] = []
    parse_mapping(raw, problems)
    assert sorted(p.split(":")[0] for p in problems) == [
        "surveillance.dataElements.colour", "surveillance.dataElements.syndrome",
        "surveillance.dataSet", "surveillance.method", "surveillance.program",
        "surveillance.sdFloor"]


def test_without_surveillance_nothing_changes() -> None:
    raw = _example()
    del raw["surveillance"]
    problems: list[str] = []
    assert parse_mapping(raw, problems).surveillance is None and problems == []


def test_event_uid_is_a_stable_dhis2_uid() -> None:
    uid = event_uid("KsmCrh00001", "FEVER", date(2026, 3, 12))
    assert uid == event_uid("KsmCrh00001", "FEVER", date(2026, 3, 12))
    assert uid != event_uid("KsmCrh00001", "AWD", date(2026, 3, 12))
    assert len(uid) == 11 and uid[0].isalpha() and uid.isalnum()
    mapping = parse_mapping(_example(), []).surveillance
    assert mapping is not None
    event = event_of(Alert("KsmCrh00001", "FEVER", date(2026, 3, 12), 5, 0.0, 5.0, "C2"),
                     mapping)
    assert event["event"] == uid and event["occurredAt"] == "2026-03-12"
