"""Units: what callers send becomes MedicationFacts; findings become cards that keep the
specification's rules (summary length, indicators, the JSON rule, suggestions only for
drafts); CARI_CDS_* settings are checked; the specification's own example response passes
the response schema the HTTP tests use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters.settings import SettingsError, load_settings
from adapters.settings.cds import load_cds_settings
from resolvers.cds.hooks.cards import CardContext, finding_card, summary_text
from resolvers.cds.hooks.lab_cards import lab_cards
from resolvers.cds.hooks.medications import draft_orders, facts_of
from resolvers.cds.model import (
    Coding,
    Finding,
    FindingKind,
    MedicationFacts,
    RecognisedMedication,
    Severity,
)
from tests.cds_hooks.fakes import SOURCE
from tests.cds_hooks.support import VALIDATOR, no_empty_values
from tests.support import ROOT

CONTEXT = CardContext("drug-interaction-check", "h-1", "https://gw.example.org/cds-services",
                      "v1")


def test_medication_forms() -> None:
    assert facts_of(" Rifampicin ") == MedicationFacts(text="Rifampicin")
    assert facts_of({"system": "urn:s", "code": "1", "display": "A"}) == MedicationFacts(
        codings=(Coding("urn:s", "1", "A"),), text="A")
    assert facts_of({"name": "B 10 mg"}) == MedicationFacts(text="B 10 mg")
    assert facts_of({"coding": [{"system": "urn:s", "code": "2", "display": "C"}]}) == \
        MedicationFacts(codings=(Coding("urn:s", "2", "C"),), text="C")
    request = {"resourceType": "MedicationRequest", "id": "m1",
               "medicationReference": {"reference": "Medication/x", "display": "D"}}
    assert facts_of(request, draft=True) == MedicationFacts(text="D",
                                                            reference="MedicationRequest/m1",
                                                            draft=True)
    for nothing in ("", {}, {"code": ""}, 7, None, {"resourceType": "MedicationRequest"}):
        assert facts_of(nothing) is None


def test_draft_orders_mark_the_selection() -> None:
    bundle = {"resourceType": "Bundle", "entry": [
        {"resource": {"resourceType": "MedicationRequest", "id": f"m{n}",
                      "medicationCodeableConcept": {"text": f"drug {n}"}}} for n in (1, 2)] + [
        {"resource": {"resourceType": "ServiceRequest", "id": "s1"}}]}
    assert [(f.reference, f.draft) for f in draft_orders(bundle, None)] == [
        ("MedicationRequest/m1", True), ("MedicationRequest/m2", True)]
    assert [f.draft for f in draft_orders(bundle, ["MedicationRequest/m2"])] == [False, True]


def _finding(severity: Severity, *, drafts: bool = False, sources: bool = True,
             summary: str = "A with B") -> Finding:
    meds = tuple(RecognisedMedication(MedicationFacts(
        text=name, reference=f"MedicationRequest/{name}" if drafts else None, draft=drafts),
        name, Coding("name", name)) for name in ("a", "b"))
    return Finding(FindingKind.INTERACTION, "e-1", severity, meds, summary, "m", "c", "g",
                   (SOURCE,) if sources else ())


@pytest.mark.parametrize(("severity", "indicator"), [
    (Severity.CONTRAINDICATED, "critical"), (Severity.MAJOR, "warning"),
    (Severity.MODERATE, "warning"), (Severity.MINOR, "info")])
def test_indicator_by_severity(severity: Severity, indicator: str) -> None:
    card = finding_card(_finding(severity), CONTEXT)
    assert card["indicator"] == indicator
    VALIDATOR.validate({"cards": [card]})


def test_a_card_without_sources_keeps_the_json_rule() -> None:
    card = finding_card(_finding(Severity.MINOR, sources=False), CONTEXT)
    no_empty_values(card)
    assert "links" not in card and "suggestions" not in card
    assert card["source"]["url"] == CONTEXT.fallback_url
    assert card["source"]["label"] == "Cari interaction knowledge base"


def test_drafts_get_one_delete_suggestion_each() -> None:
    card = finding_card(_finding(Severity.MODERATE, drafts=True), CONTEXT)
    assert [s["actions"][0]["resourceId"] for s in card["suggestions"]] == [
        "MedicationRequest/a", "MedicationRequest/b"]
    assert card["selectionBehavior"] == "at-most-one"
    assert all(s["isRecommended"] is False for s in card["suggestions"])  # moderate
    assert len({s["uuid"] for s in card["suggestions"]}) == 2
    VALIDATOR.validate({"cards": [card]})


def test_summaries_are_cut_to_140() -> None:
    assert summary_text("x" * 140) == "x" * 140
    cut = summary_text("word " * 60)
    assert len(cut) == 140 and cut.endswith("…")
    card = finding_card(_finding(Severity.MINOR, summary="y" * 300), CONTEXT)
    assert len(card["summary"]) == 140


def test_lab_cards_compare_only_matching_units_and_recent_results() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)

    def obs(oid: str, value: float, unit: str, age: timedelta) -> dict[str, object]:
        return {"resourceType": "Observation", "id": oid, "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
                "effectiveDateTime": (now - age).isoformat(),
                "valueQuantity": {"value": value, "code": unit}}

    week = timedelta(days=7)
    assert lab_cards([obs("o1", 7.0, "mg/dL", timedelta(hours=1))], CONTEXT, now, week) == []
    assert lab_cards([obs("o2", 7.0, "mmol/L", timedelta(days=8))], CONTEXT, now, week) == []
    (card,) = lab_cards([obs("o3", 2.0, "mmol/L", timedelta(hours=2)),
                         obs("o4", 4.0, "mmol/L", timedelta(hours=5))], CONTEXT, now, week)
    assert "Observation/o3" in card["detail"] and "(low)" in card["summary"]
    newest_normal = lab_cards([obs("o5", 2.0, "mmol/L", timedelta(hours=5)),
                               obs("o6", 4.0, "mmol/L", timedelta(hours=1))], CONTEXT, now, week)
    assert newest_normal == []  # the newest result per code decides


def test_cds_settings() -> None:
    problems: list[str] = []
    settings = load_cds_settings({
        "CARI_CDS_CORS_ORIGINS": "https://ehr.example.org/, https://b.example",
        "CARI_CDS_CLIENTS": json.dumps([
            {"iss": "https://a", "jwks": {"keys": []}},
            {"iss": "https://b", "jwks_url": "https://b/jwks.json", "jku": ["https://b/k"]}]),
        "CARI_CDS_CARD_SECONDS": "3600"}, problems)
    assert problems == []
    assert settings.cors_origins == ("https://ehr.example.org", "https://b.example")
    assert set(settings.clients_by_iss) == {"https://a", "https://b"}
    assert settings.clients_by_iss["https://b"].jku == ("https://b/k",)
    assert settings.card_seconds == 3600


@pytest.mark.parametrize(("raw", "problem"), [
    ("not json", "not valid JSON"), ('{"iss": "x"}', "JSON array"),
    ('[{"jwks": {"keys": []}}]', "non-empty iss"),
    ('[{"iss": "a"}]', "exactly one of jwks and jwks_url"),
    ('[{"iss": "a", "jwks": {}, "jwks_url": "https://x"}]', "exactly one"),
    ('[{"iss": "a", "jwks_url": "ftp://x"}]', "absolute http(s) URL"),
    ('[{"iss": "a", "jwks": {"keys": []}}, {"iss": "a", "jwks": {"keys": []}}]',
     "registered twice")])
def test_bad_clients_are_refused_at_start(raw: str, problem: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"CARI_CDS_CLIENTS": raw})
    assert problem in str(refused.value)


def test_the_specification_example_response_passes_the_schema() -> None:
    text = (ROOT.parent / "shared" / "reference" / "standards.md").read_text(encoding="utf-8")
    start = text.index('{"cards":[{"uuid":"4b2d9b0e')
    example = json.loads(text[start:text.index("```", start)])
    VALIDATOR.validate(example)
    assert not VALIDATOR.is_valid({"cards": [{**example["cards"][0], "summary": "x" * 141}]})
    assert not VALIDATOR.is_valid({"cards": [{**example["cards"][0], "links": []}]})
    without = {k: v for k, v in example["cards"][0].items() if k != "selectionBehavior"}
    assert not VALIDATOR.is_valid({"cards": [without]})  # suggestions need it
