"""SMART scopes, v1 (``patient/Observation.read``, ``user/*.*``, ``patient/*.write``) and v2
(``patient/Observation.rs``, ``user/Patient.cruds``, ``?category=system|code``).

Pure functions: the FHIR use cases ask :func:`resource_rules` which rules a token carries and
:func:`permitting` which of them allow an interaction (c create, r read, u update, d delete,
s search) on a type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

LETTERS = "cruds"
V1 = {"read": "rs", "write": "cud", "*": "cruds"}
CONTEXT_SCOPES = frozenset(("launch", "launch/patient", "launch/encounter", "openid", "fhirUser",
                            "profile", "offline_access", "online_access"))
_RESOURCE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]{1,63})\.([a-z*]+)"
                       r"(?:\?category=([^\s&]+))?$")


@dataclass(frozen=True)
class ScopeRule:
    level: str  # patient | user | system
    resource_type: str  # a type or *
    letters: str  # a subset of cruds, in that order
    category: tuple[str | None, str] | None = None  # (system, code) of ?category=

    def allows(self, resource_type: str, letter: str) -> bool:
        return self.resource_type in ("*", resource_type) and letter in self.letters

    def covers(self, other: ScopeRule) -> bool:
        """Whether an app allowed this rule may be granted ``other``."""
        return (self.level == other.level and self.resource_type in ("*", other.resource_type)
                and set(other.letters) <= set(self.letters)
                and self.category in (None, other.category))


def parse_rule(scope: str) -> ScopeRule | None:
    """The rule of a resource scope; None when ``scope`` is not one (launch, openid, ...)."""
    found = _RESOURCE.match(scope)
    if not found:
        return None
    level, resource_type, action, category = found.groups()
    if action in V1:
        letters = V1[action]
    elif action and all(c in LETTERS for c in action) and \
            "".join(sorted(action, key=LETTERS.index)) == action and len(set(action)) == len(
                action):
        letters = action
    else:
        return None
    parsed: tuple[str | None, str] | None = None
    if category:
        system, bar, code = category.rpartition("|")
        parsed = (system or None, code) if bar else (None, category)
    return ScopeRule(level, resource_type, letters, parsed)


def is_known(scope: str) -> bool:
    return scope in CONTEXT_SCOPES or parse_rule(scope) is not None


def resource_rules(scopes: Iterable[str]) -> list[ScopeRule]:
    return [r for r in (parse_rule(s) for s in scopes) if r is not None]


def permitting(rules: Iterable[ScopeRule], resource_type: str, letter: str) -> list[ScopeRule]:
    return [r for r in rules if r.allows(resource_type, letter)]


def app_may_have(app_scopes: Iterable[str], scope: str) -> bool:
    """A requested scope is one the app was registered with, or covered by one of them."""
    allowed = list(app_scopes)
    if scope in allowed:
        return True
    wanted = parse_rule(scope)
    return wanted is not None and any(
        (rule := parse_rule(a)) is not None and rule.covers(wanted) for a in allowed)


def category_matches(rule: ScopeRule, document: dict[str, object]) -> bool:
    """Whether a resource carries the category a ``?category=`` rule is restricted to."""
    if rule.category is None:
        return True
    system, code = rule.category
    raw = document.get("category")
    concepts = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []
    for concept in concepts:
        codings = concept.get("coding") if isinstance(concept, dict) else None
        for coding in codings if isinstance(codings, list) else []:
            if isinstance(coding, dict) and coding.get("code") == code and (
                    system is None or coding.get("system") == system):
                return True
    return False


SCOPES_SUPPORTED = [
    "openid", "fhirUser", "launch", "launch/patient", "launch/encounter", "offline_access",
    "online_access", "patient/*.rs", "patient/*.cruds", "user/*.rs", "user/*.cruds",
    "system/*.rs", "system/*.cruds", "patient/Observation.rs", "patient/*.read", "user/*.*",
]
