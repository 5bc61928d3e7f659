"""SMART scope grammar (v1 and v2) and which registered scopes cover a requested one."""

from __future__ import annotations

import pytest

from resolvers.smart.scopes import ScopeRule, app_may_have, is_known, parse_rule

LAB = "http://terminology.hl7.org/CodeSystem/observation-category"


@pytest.mark.parametrize(("scope", "rule"), [
    ("patient/Observation.read", ScopeRule("patient", "Observation", "rs")),
    ("user/*.*", ScopeRule("user", "*", "cruds")),
    ("patient/*.write", ScopeRule("patient", "*", "cud")),
    ("patient/Observation.rs", ScopeRule("patient", "Observation", "rs")),
    ("user/Patient.cruds", ScopeRule("user", "Patient", "cruds")),
    ("system/*.rs", ScopeRule("system", "*", "rs")),
    (f"patient/Observation.rs?category={LAB}|laboratory",
     ScopeRule("patient", "Observation", "rs", (LAB, "laboratory"))),
])
def test_resource_scopes(scope: str, rule: ScopeRule) -> None:
    assert parse_rule(scope) == rule


@pytest.mark.parametrize("scope", ["patient/Observation.sr", "patient/Observation.rr",
                                   "patient/Observation.x", "doctor/*.rs", "patient/obs.rs",
                                   "launch/nothing"])
def test_not_scopes(scope: str) -> None:
    assert parse_rule(scope) is None and not is_known(scope)


def test_context_scopes_are_known() -> None:
    assert all(is_known(s) for s in ("launch", "launch/patient", "openid", "fhirUser",
                                     "offline_access", "online_access"))


def test_registered_scopes_cover_narrower_ones() -> None:
    registered = ["patient/*.cruds", "user/Observation.rs"]
    assert app_may_have(registered, "patient/Observation.rs")
    assert app_may_have(registered, "patient/Observation.read")
    assert app_may_have(registered, f"user/Observation.rs?category={LAB}|laboratory")
    assert not app_may_have(registered, "user/Patient.rs")
    assert not app_may_have(registered, "user/Observation.cruds")
    assert not app_may_have(registered, "system/*.rs")
    assert not app_may_have(["launch"], "launch/patient")
