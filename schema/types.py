"""Federation entities (Patient, Organization) and the types around them."""

import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Optional

import strawberry

from resolvers.directory.model import Organization as OrganizationModel
from resolvers.mpi.model import Patient as PatientModel
from resolvers.principal import Role
from schema.execution import ANSWERS_AT_ONCE
from schema.fhir_datatypes import Address, ContactPoint
from schema.graphql_context import Info
from schema.paging import page_size
from schema.permissions import has_role

if TYPE_CHECKING:  # schema.labs imports this module; strawberry.lazy resolves it at run time
    from schema.labs import LabResult
    from schema.payments import Payment


@strawberry.type
class Identifier:
    system: str
    value: str


@strawberry.enum
class Gender(Enum):
    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"


@strawberry.federation.type(keys=["id"])
class Organization:
    id: strawberry.ID
    name: str
    identifiers: list[Identifier]
    country: str | None
    kind: str | None
    part_of_id: strawberry.ID | None
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def of(cls, o: OrganizationModel) -> "Organization":
        return cls(id=strawberry.ID(o.id), name=o.name,
                   identifiers=[Identifier(system=i.system, value=i.value) for i in o.identifiers],
                   country=o.country, kind=o.kind,
                   part_of_id=strawberry.ID(o.part_of) if o.part_of else None,
                   version=o.version, created_at=o.created_at, updated_at=o.updated_at)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Optional["Organization"]:
        found = await info.context.loaders.organization.load(str(id))
        return cls.of(found) if found else None


@strawberry.federation.type(keys=["id"])
class Patient:
    id: strawberry.ID
    identifiers: list[Identifier]
    family: str | None
    given: list[str]
    birth_date: datetime.date | None
    gender: Gender | None
    phone: str | None
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    organization_id: strawberry.Private[str | None]

    @strawberry.field(description="Laboratory results, newest first: the newest `first` "
                      "of this patient (default 50)",
                      graphql_type=list[Annotated["LabResult", strawberry.lazy("schema.labs")]],
                      metadata={ANSWERS_AT_ONCE: True})
    def lab_results(self, info: Info, first: int = 50) -> Any:
        # A plain function: results the patients field read ahead for its page are answered
        # at once; otherwise it returns the DataLoader's awaitable (one search per page).
        # Called again it answers the same (the DataLoader caches its keys), which is what
        # ANSWERS_AT_ONCE promises (schema/execution.py).
        # The views carry LabResult's fields under the same names, and Strawberry reads such
        # fields by attribute (LabResult is in no union or interface, so no type check):
        # building a LabResult for each cost a dataclass __init__, 250 on a page of 50.
        key = (str(self.id), page_size(first))
        loaders = info.context.loaders
        ready = loaders.lab_results_ready.get(key)
        return ready if ready is not None else loaders.lab_results.load(key)

    @strawberry.field(description="Payments naming this patient, newest first (billing)",
                      permission_classes=[has_role(Role.BILLING, Role.INTEGRATOR)])
    async def payments(self, info: Info) -> list[Annotated["Payment",
                                                          strawberry.lazy("schema.payments")]] | None:
        from schema.payments import Payment  # the run-time import of the lazy type

        return [Payment.of(v) for v in await info.context.loaders.payments.load(str(self.id))]

    @strawberry.field(description="Addresses, from the patient's FHIR document")
    async def addresses(self, info: Info) -> list[Address]:
        found = await info.context.loaders.fhir.load(("Patient", str(self.id)))
        return Address.many(found.document) if found else []

    @strawberry.field(description="Phone, email and other contacts, from the FHIR document")
    async def telecom(self, info: Info) -> list[ContactPoint]:
        found = await info.context.loaders.fhir.load(("Patient", str(self.id)))
        return ContactPoint.many(found.document) if found else []

    @strawberry.field(description="The organization that manages this patient's record",
                      graphql_type=Organization | None)
    def managing_organization(self, info: Info) -> Any:
        # A plain function: when patient(id:) read the organization with the patient
        # (Loaders.organizations) it answers at once, with no coroutine for the executor
        # to await; otherwise it returns the loader's awaitable, which GraphQL awaits like
        # an async resolver's.
        if self.organization_id is None:
            return None
        known = info.context.loaders.organizations.found
        if self.organization_id in known:
            org = known[self.organization_id]
            return Organization.of(org) if org is not None else None
        return self._load_organization(info, self.organization_id)

    @staticmethod
    async def _load_organization(info: Info, organization_id: str) -> Organization | None:
        found = await info.context.loaders.organization.load(organization_id)
        return Organization.of(found) if found else None

    @classmethod
    def of(cls, p: PatientModel) -> "Patient":
        return cls(
            id=strawberry.ID(p.id),
            identifiers=[Identifier(system=i.system, value=i.value) for i in p.identifiers],
            family=p.family, given=list(p.given), birth_date=p.birth_date,
            gender=Gender(p.gender) if p.gender else None, phone=p.phone, version=p.version,
            created_at=p.created_at, updated_at=p.updated_at, organization_id=p.organization_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Optional["Patient"]:
        found = await info.context.loaders.patient.load(str(id))
        return cls.of(found) if found else None


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class PatientConnection:
    nodes: list[Patient]
    page_info: PageInfo


@strawberry.type
class OrganizationConnection:
    nodes: list[Organization]
    page_info: PageInfo


@strawberry.type
class AuditEvent:
    id: strawberry.ID
    recorded_at: datetime.datetime
    subject: str
    roles: list[str]
    action: str
    resource_type: str
    resource_id: str | None
    patient_id: str | None
    outcome: str
    request_id: str
    surface: str
    purpose: str


@strawberry.type
class AuditEventConnection:
    nodes: list[AuditEvent]
    page_info: PageInfo


@strawberry.type
class OutboxMessage:
    id: strawberry.ID
    destination: str
    idempotency_key: str
    status: str
    attempts: int
    next_attempt_at: datetime.datetime
    created_at: datetime.datetime
    delivered_at: datetime.datetime | None
    last_error: str | None


def page_info(items: list[object], limit: int, last_id: str | None) -> PageInfo:
    full = len(items) == limit and limit > 0
    return PageInfo(has_next_page=full, end_cursor=last_id if full else None)
