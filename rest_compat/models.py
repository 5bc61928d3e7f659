"""Request and response bodies shared by the REST route families (also the OpenAPI schemas)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from resolvers.directory.model import Organization
from resolvers.mpi.model import Identifier, Patient


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentifierBody(Strict):
    system: str = Field(min_length=1, max_length=200, description="Assigning authority URI")
    value: str = Field(min_length=1, max_length=200)

    def to_domain(self) -> Identifier:
        return Identifier(system=self.system, value=self.value)

    @classmethod
    def of(cls, identifier: Identifier) -> IdentifierBody:
        return cls(system=identifier.system, value=identifier.value)


class PatientBody(Strict):
    identifiers: list[IdentifierBody] = Field(default_factory=list, max_length=20)
    family: str | None = Field(default=None, max_length=200)
    given: list[str] = Field(default_factory=list, max_length=10)
    birth_date: date | None = None
    gender: Literal["male", "female", "other", "unknown"] | None = None
    # The pattern is documented here but enforced by the domain rules, which report every
    # problem of a record at once instead of stopping at the first.
    phone: str | None = Field(default=None, max_length=32,
                              json_schema_extra={"pattern": r"^\+?[0-9 \-]{7,20}$"},
                              description="7 to 15 digits, optionally starting with +")
    organization_id: str | None = Field(default=None, max_length=36)


class PatientView(BaseModel):
    id: str
    identifiers: list[IdentifierBody]
    family: str | None
    given: list[str]
    birth_date: date | None
    gender: str | None
    phone: str | None
    organization_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Patient) -> PatientView:
        return cls(
            id=p.id, identifiers=[IdentifierBody.of(i) for i in p.identifiers], family=p.family,
            given=list(p.given), birth_date=p.birth_date, gender=p.gender, phone=p.phone,
            organization_id=p.organization_id, version=p.version, created_at=p.created_at,
            updated_at=p.updated_at,
        )


class PatientPage(BaseModel):
    items: list[PatientView]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end")


class OrganizationBody(Strict):
    name: str = Field(min_length=1, max_length=200)
    identifiers: list[IdentifierBody] = Field(default_factory=list, max_length=20)
    country: str | None = Field(default=None, pattern="^[A-Za-z]{2}$",
                                description="ISO 3166-1 alpha-2")
    kind: str | None = Field(default=None, max_length=64,
                             description="facility, laboratory, ministry, ...")
    part_of: str | None = Field(default=None, max_length=64,
                                description="The parent organization's id (e.g. the district)")


class OrganizationView(BaseModel):
    id: str
    name: str
    identifiers: list[IdentifierBody]
    country: str | None
    kind: str | None
    part_of: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, o: Organization) -> OrganizationView:
        return cls(id=o.id, name=o.name, identifiers=[IdentifierBody.of(i) for i in o.identifiers],
                   country=o.country, kind=o.kind, part_of=o.part_of, version=o.version,
                   created_at=o.created_at, updated_at=o.updated_at)


class OrganizationPage(BaseModel):
    items: list[OrganizationView]
    next_cursor: str | None


class AuditEventView(BaseModel):
    id: str
    recorded_at: datetime
    subject: str
    roles: list[str]
    action: Literal["C", "R", "U", "D", "E"]
    resource_type: str
    resource_id: str | None
    patient_id: str | None
    outcome: str
    request_id: str
    surface: str
    purpose: str


class AuditPage(BaseModel):
    items: list[AuditEventView]
    next_cursor: str | None


class OutboxMessageView(BaseModel):
    id: str
    destination: str
    idempotency_key: str
    status: Literal["pending", "in_flight", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    event_type: str | None


class OutboxPage(BaseModel):
    items: list[OutboxMessageView]
    next_cursor: str | None


class ReplayBody(Strict):
    ids: list[str] | None = Field(default=None, max_length=1000,
                                  description="Dead letters to replay; omit to replay all")


class ReplayResult(BaseModel):
    replayed: int


def page_cursor(items: list[Any], limit: int) -> str | None:
    return str(items[-1].id) if len(items) == limit and items else None
