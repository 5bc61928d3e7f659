"""FHIR data types as GraphQL types, built from resource JSON."""

from typing import Any, Optional

import strawberry


def _list(doc: Any, key: str) -> list[Any]:
    value = doc.get(key) if isinstance(doc, dict) else None
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _str(doc: Any, key: str) -> str | None:
    value = doc.get(key) if isinstance(doc, dict) else None
    return str(value) if isinstance(value, str | int | float | bool) else None


@strawberry.type
class Coding:
    system: str | None
    code: str | None
    display: str | None

    @classmethod
    def of(cls, d: dict[str, Any]) -> "Coding":
        return cls(system=_str(d, "system"), code=_str(d, "code"), display=_str(d, "display"))


@strawberry.type
class CodeableConcept:
    coding: list[Coding]
    text: str | None

    @classmethod
    def of(cls, d: Any) -> Optional["CodeableConcept"]:
        if not isinstance(d, dict):
            return None
        return cls(coding=[Coding.of(c) for c in _list(d, "coding")], text=_str(d, "text"))

    @classmethod
    def many(cls, doc: Any, key: str) -> list["CodeableConcept"]:
        return [c for c in (cls.of(d) for d in _list(doc, key)) if c is not None]


@strawberry.type
class Reference:
    reference: str | None
    display: str | None

    @classmethod
    def of(cls, d: Any) -> Optional["Reference"]:
        if not isinstance(d, dict):
            return None
        return cls(reference=_str(d, "reference"), display=_str(d, "display"))


@strawberry.type
class Period:
    start: str | None
    end: str | None

    @classmethod
    def of(cls, d: Any) -> Optional["Period"]:
        return cls(start=_str(d, "start"), end=_str(d, "end")) if isinstance(d, dict) else None


@strawberry.type
class Quantity:
    value: float | None
    unit: str | None
    system: str | None
    code: str | None
    comparator: str | None

    @classmethod
    def of(cls, d: Any) -> Optional["Quantity"]:
        if not isinstance(d, dict):
            return None
        value = d.get("value")
        return cls(value=float(value) if isinstance(value, int | float) else None,
                   unit=_str(d, "unit"), system=_str(d, "system"), code=_str(d, "code"),
                   comparator=_str(d, "comparator"))


@strawberry.type
class ReferenceRange:
    low: Quantity | None
    high: Quantity | None
    text: str | None


@strawberry.type
class HumanName:
    use: str | None
    family: str | None
    given: list[str]
    text: str | None

    @classmethod
    def many(cls, doc: Any) -> list["HumanName"]:
        return [cls(use=_str(n, "use"), family=_str(n, "family"),
                    given=[g for g in n.get("given") or [] if isinstance(g, str)],
                    text=_str(n, "text")) for n in _list(doc, "name")]


@strawberry.type
class ContactPoint:
    system: str | None
    value: str | None
    use: str | None

    @classmethod
    def many(cls, doc: Any) -> list["ContactPoint"]:
        return [cls(system=_str(t, "system"), value=_str(t, "value"), use=_str(t, "use"))
                for t in _list(doc, "telecom")]


@strawberry.type
class FhirIdentifier:
    system: str | None
    value: str | None

    @classmethod
    def many(cls, doc: Any) -> list["FhirIdentifier"]:
        return [cls(system=_str(i, "system"), value=_str(i, "value"))
                for i in _list(doc, "identifier")]


@strawberry.type
class Meta:
    version_id: str | None
    last_updated: str | None


@strawberry.type
class OutcomeIssue:
    severity: str
    code: str
    diagnostics: str
    expression: str | None


@strawberry.type
class Address:
    use: str | None
    lines: list[str]
    city: str | None
    district: str | None
    state: str | None
    postal_code: str | None
    country: str | None

    @classmethod
    def many(cls, doc: Any) -> list["Address"]:
        return [cls(use=_str(a, "use"),
                    lines=[x for x in a.get("line") or [] if isinstance(x, str)],
                    city=_str(a, "city"), district=_str(a, "district"), state=_str(a, "state"),
                    postal_code=_str(a, "postalCode"), country=_str(a, "country"))
                for a in _list(doc, "address")]
