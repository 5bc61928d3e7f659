"""Messaging's pure rules: E.164 per country, keywords, template parameters."""

from __future__ import annotations

import pytest

from resolvers.errors import InvalidInput
from resolvers.messaging.model import Template, TemplateCall, TemplateStatus
from resolvers.messaging.rules import keyword, keyword_set, normalise_phone, template_problem


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("0712 345 678", "KE", "+254712345678"),
    ("+254 712 345678", None, "+254712345678"),
    ("254712345678", None, "+254712345678"),
    ("00254712345678", None, "+254712345678"),
    ("024 412 3456", "GH", "+233244123456"),
    ("0803 123 4567", "NG", "+2348031234567"),
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("0772 123 456", "UG", "+256772123456"),
    ("+256 772 123456", "KE", "+256772123456"),  # an international form wins over a country
])
def test_e164_per_country(raw: str, country: str | None, expected: str) -> None:
    assert normalise_phone(raw, country) == expected


def test_default_country_reads_national_numbers_after_the_patients() -> None:
    assert normalise_phone("0712345678", None, "KE") == "+254712345678"
    assert normalise_phone("0244123456", "GH", "KE") == "+233244123456"


@pytest.mark.parametrize(("raw", "country", "field"), [
    ("0712345678", None, "phone"), ("12", "KE", "phone"), ("+999 123", None, "phone")])
def test_unusable_numbers_are_refused(raw: str, country: str | None, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalise_phone(raw, country)
    assert refused.value.details == {"field": field}


def test_keywords_ignore_case_accents_and_punctuation() -> None:
    words = keyword_set(["STOP", "ARRÊT", "Acha"])
    assert {keyword(t) for t in ("stop", " Stop! ", "arrêt", "ARRET.", "acha")} <= words
    assert keyword("stop please") not in words


TEMPLATE = Template("appointment_reminder", "en", TemplateStatus.APPROVED, "UTILITY",
                    "Hello {{1}}, at {{2}} (again {{1}})", header="Clinic {{1}}",
                    buttons=("Confirm", "Cancel"))


@pytest.mark.parametrize(("call", "problem"), [
    (TemplateCall("appointment_reminder", "en", ("A", "B"), ("C",)), None),
    (TemplateCall("appointment_reminder", "en", ("A",), ("C",)), "2 body parameter(s); 1"),
    (TemplateCall("appointment_reminder", "en", ("A", "B")), "1 header parameter(s); 0"),
    (TemplateCall("appointment_reminder", "en", ("A", " "), ("C",)), "is empty"),
    (TemplateCall("appointment_reminder", "en", ("A", "B\nC"), ("C",)), "new line"),
    (TemplateCall("appointment_reminder", "en", ("A", "B"), ("C",), ("x", "y", "z")),
     "3 payloads"),
])
def test_template_parameters_against_placeholders(call: TemplateCall,
                                                  problem: str | None) -> None:
    found = template_problem(TEMPLATE, call)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_missing_or_unapproved_templates() -> None:
    call = TemplateCall("appointment_reminder", "en", ("A", "B"), ("C",))
    assert "not registered" in (template_problem(None, call) or "")
    paused = Template(**{**TEMPLATE.__dict__, "status": TemplateStatus.PAUSED})
    assert "PAUSED" in (template_problem(paused, call) or "")
