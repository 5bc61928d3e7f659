"""Cross-border lookup over GraphQL: crossBorderPatients, with typed per-country outcomes.

The same use case as GET /api/fhir/cross-border/Patient/{national_id}; a refused request
(unknown country, endpoint off the allow-list) is a typed CrossBorderRefusal, and an HIE that
failed is an outcome with status FAILED and its failure kind, never a GraphQL error.
"""

from enum import Enum
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from resolvers.crossborder.lookup import READ_ROLES
from resolvers.crossborder.model import CountryOutcome, LookupResult
from resolvers.fhir.errors import FhirProblem
from schema.graphql_context import Info
from schema.permissions import has_role


@strawberry.enum
class CrossBorderStatus(Enum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    FAILED = "failed"


@strawberry.enum
class CrossBorderFailure(Enum):
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    UNAUTHORIZED = "unauthorized"
    BAD_ANSWER = "bad_answer"
    UPSTREAM_ERROR = "upstream_error"
    CIRCUIT_OPEN = "circuit_open"


@strawberry.type
class NationalIdentifier:
    system: str | None
    value: str | None


@strawberry.type
class CrossBorderPatient:
    """A Patient a national HIE holds (validated FHIR R4), with where it came from."""

    id: str | None
    country: str
    source: str
    full_url: str | None
    family: str | None
    given: list[str]
    gender: str | None
    birth_date: str | None
    identifiers: list[NationalIdentifier]
    resource: JSON


@strawberry.type
class CountryLookup:
    """One HIE's part of the lookup."""

    country: str
    source: str
    status: CrossBorderStatus
    failure: CrossBorderFailure | None
    message: str
    warnings: list[str]
    elapsed_ms: float
    patients: list[CrossBorderPatient]


@strawberry.type
class CrossBorderLookup:
    national_id: str
    purpose: str
    countries: list[str]
    total: int
    outcomes: list[CountryLookup]


@strawberry.type
class CrossBorderRefusal:
    """The lookup was not made: the message says why (e.g. an unknown country)."""

    message: str
    supported_countries: list[str]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _patient(outcome: CountryOutcome, resource: dict[str, Any]) -> CrossBorderPatient:
    names = resource.get("name") or [{}]
    name = names[0] if isinstance(names[0], dict) else {}
    resource_id = _text(resource.get("id"))
    return CrossBorderPatient(
        id=resource_id, country=outcome.country, source=outcome.source,
        full_url=f"{outcome.source}/Patient/{resource_id}" if resource_id else None,
        family=_text(name.get("family")),
        given=[g for g in name.get("given") or [] if isinstance(g, str)],
        gender=_text(resource.get("gender")), birth_date=_text(resource.get("birthDate")),
        identifiers=[NationalIdentifier(system=_text(i.get("system")),
                                        value=_text(i.get("value")))
                     for i in resource.get("identifier") or [] if isinstance(i, dict)],
        resource=cast(JSON, resource))


def _lookup(result: LookupResult) -> CrossBorderLookup:
    return CrossBorderLookup(
        national_id=result.national_id, purpose=result.purpose,
        countries=list(result.countries), total=len(result.patients),
        outcomes=[CountryLookup(
            country=o.country, source=o.source, status=CrossBorderStatus(o.status.value),
            failure=CrossBorderFailure(o.failure.value) if o.failure else None,
            message=o.message, warnings=list(o.dropped), elapsed_ms=round(o.elapsed_ms, 1),
            patients=[_patient(o, p) for p in o.patients]) for o in result.outcomes])


CrossBorderResult = Annotated[CrossBorderLookup | CrossBorderRefusal,
                              strawberry.union("CrossBorderResult")]


@strawberry.type
class CrossBorderQuery:
    @strawberry.field(permission_classes=[has_role(*READ_ROLES)])
    async def cross_border_patients(
            self, info: Info, national_id: str, countries: list[str] | None = None,
            hie_endpoint: str | None = None, identifier_system: str | None = None,
            purpose: str | None = None) -> CrossBorderResult:
        """Ask national HIEs (countries: codes, or ["ALL"]) for a patient by national id."""
        use_case = info.context.services.cross_border
        try:
            result = await use_case.lookup(
                info.context.caller, national_id,
                countries=",".join(countries) if countries else None, endpoint=hie_endpoint,
                system=identifier_system, purpose=purpose, strict=False)
        except FhirProblem as exc:
            return CrossBorderRefusal(message=exc.message,
                                      supported_countries=list(use_case.supported))
        return _lookup(result)
