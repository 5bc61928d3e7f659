"""CARI_DHIS2_* settings and the mapping file: read at start, every problem named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.settings import SettingsError, load_settings
from adapters.settings.dhis2_mapping import parse_mapping

EXAMPLE = Path(__file__).resolve().parents[2] / "adapters/dhis2/mappings/example-ke.json"


def test_one_instance_and_the_example_mapping() -> None:
    s = load_settings({"CARI_DHIS2_URL": "https://dhis2.health.go.ke/",
                       "CARI_DHIS2_API_TOKEN": "d2pat_abc", "CARI_DHIS2_MAPPING": str(EXAMPLE)})
    (one,) = s.dhis2.instances
    assert (one.name, one.url, one.api_token) == ("default", "https://dhis2.health.go.ke",
                                                   "d2pat_abc")
    assert "d2pat_abc" not in repr(s.dhis2)  # never in logs
    mapping = s.dhis2.mapping
    assert mapping is not None and mapping.country == "KE"
    assert mapping.data_set("malaria_rdt") is mapping.data_set("MalRdtWk001")
    assert mapping.indicators["MAL_RDT_POSITIVE"].data_element == "vq2qO3eTrNi"


def test_several_instances() -> None:
    s = load_settings({"CARI_DHIS2_INSTANCES": "ke,training",
                       "CARI_DHIS2_KE_URL": "https://dhis2.health.go.ke",
                       "CARI_DHIS2_KE_USERNAME": "u", "CARI_DHIS2_KE_PASSWORD": "p",
                       "CARI_DHIS2_TRAINING_URL": "https://play.dhis2.org",
                       "CARI_DHIS2_TRAINING_API_TOKEN": "d2pat_x"})
    assert [i.name for i in s.dhis2.instances] == ["ke", "training"]


def test_every_problem_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({
        "country": "Kenya",
        "indicators": {"MAL_RDT_TESTED": {"dataElement": "short"}, "NOPE": {}},
        "dataSets": {"x": {"uid": "MalRdtWk001", "periodType": "Fortnightly",
                           "indicators": ["MAL_RDT_POSITIVE"]}},
        "orgUnits": {"a": "KsmCrh00001", "b": "KsmCrh00001"}}))
    with pytest.raises(SettingsError) as raised:
        load_settings({"CARI_DHIS2_URL": "ftp://x", "CARI_DHIS2_MAPPING": str(bad)})
    text = str(raised.value)
    for expected in ("CARI_DHIS2_URL='ftp://x'", "needs credentials", "country: 'Kenya'",
                     "indicators.MAL_RDT_TESTED.dataElement: 'short' is not a DHIS2 UID",
                     "indicators.NOPE: unknown indicator", "periodType: 'Fortnightly'",
                     "'MAL_RDT_POSITIVE' has no entry under indicators",
                     "orgUnits.b: KsmCrh00001 is already the org unit of a"):
        assert expected in text, text


def test_unreadable_or_not_json(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{not json")
    for path in (str(tmp_path / "missing.json"), str(tmp_path / "x.json")):
        with pytest.raises(SettingsError, match="CARI_DHIS2_MAPPING"):
            load_settings({"CARI_DHIS2_MAPPING": path})


def test_the_example_is_clean() -> None:
    problems: list[str] = []
    parse_mapping(json.loads(EXAMPLE.read_text()), problems)
    assert problems == []


def test_national_dataset_threshold() -> None:
    assert load_settings({}).dhis2.suppression_threshold == 5
    assert load_settings({"CARI_NATIONAL_DATASET_THRESHOLD": "11"}).dhis2.suppression_threshold \
        == 11
    with pytest.raises(SettingsError, match="CARI_NATIONAL_DATASET_THRESHOLD"):
        load_settings({"CARI_NATIONAL_DATASET_THRESHOLD": "0"})


def test_coverage_needs_the_population() -> None:
    raw = json.loads(EXAMPLE.read_text())
    raw.pop("population")
    problems: list[str] = []
    parse_mapping(raw, problems)
    assert problems == ["population: coverage indicators need the population's dataSet and "
                        "dataElement"]
