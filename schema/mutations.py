"""Mutation root: expected failures come back as typed errors in result unions."""

import datetime
from typing import Annotated

import strawberry

from resolvers.directory.model import OrganizationDraft
from resolvers.directory.organizations import WRITE_ROLES as ORG_WRITE_ROLES
from resolvers.errors import DomainError
from resolvers.mpi.model import Identifier as IdentifierModel
from resolvers.mpi.model import PatientDraft
from resolvers.mpi.patients import WRITE_ROLES as PATIENT_WRITE_ROLES
from schema.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationError,
    to_user_error,
)
from schema.graphql_context import Info
from schema.permissions import IsAdmin, has_role
from schema.types import Gender, Organization, Patient


@strawberry.input
class IdentifierInput:
    system: str
    value: str


@strawberry.input
class PatientInput:
    identifiers: list[IdentifierInput] = strawberry.field(default_factory=list)
    family: str | None = None
    given: list[str] = strawberry.field(default_factory=list)
    birth_date: datetime.date | None = None
    gender: Gender | None = None
    phone: str | None = None
    organization_id: strawberry.ID | None = None

    def to_draft(self) -> PatientDraft:
        return PatientDraft(
            identifiers=tuple(IdentifierModel(i.system, i.value) for i in self.identifiers),
            family=self.family, given=tuple(self.given), birth_date=self.birth_date,
            gender=self.gender.value if self.gender else None, phone=self.phone,
            organization_id=str(self.organization_id) if self.organization_id else None,
        )


@strawberry.input
class OrganizationInput:
    name: str
    identifiers: list[IdentifierInput] = strawberry.field(default_factory=list)
    country: str | None = None
    kind: str | None = None
    part_of: strawberry.ID | None = None


@strawberry.type
class ReplayResult:
    replayed: int


PatientMutationResult = Annotated[
    Patient | ValidationError | ConflictError | NotFoundError | ForbiddenError,
    strawberry.union("PatientMutationResult"),
]
OrganizationMutationResult = Annotated[
    Organization | ValidationError | ForbiddenError,
    strawberry.union("OrganizationMutationResult"),
]


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[has_role(*PATIENT_WRITE_ROLES)])
    async def create_patient(self, info: Info, input: PatientInput) -> PatientMutationResult:
        ctx = info.context
        try:
            return Patient.of(await ctx.services.patients.create(ctx.caller, input.to_draft()))
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]

    @strawberry.mutation(permission_classes=[has_role(*PATIENT_WRITE_ROLES)])
    async def update_patient(self, info: Info, id: strawberry.ID, input: PatientInput,
                             expected_version: int | None = None) -> PatientMutationResult:
        ctx = info.context
        try:
            return Patient.of(await ctx.services.patients.update(
                ctx.caller, str(id), input.to_draft(), expected_version=expected_version))
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]

    @strawberry.mutation(permission_classes=[has_role(*ORG_WRITE_ROLES)])
    async def create_organization(self, info: Info,
                                  input: OrganizationInput) -> OrganizationMutationResult:
        ctx = info.context
        try:
            return Organization.of(await ctx.services.organizations.create(
                ctx.caller, OrganizationDraft(
                    name=input.name, country=input.country, kind=input.kind,
                    part_of=str(input.part_of) if input.part_of else None,
                    identifiers=tuple(IdentifierModel(i.system, i.value)
                                      for i in input.identifiers))))
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]

    @strawberry.mutation(permission_classes=[IsAdmin],
                         description="Move dead letters (all, or the given ids) back to pending")
    async def replay_dead_letters(self, info: Info,
                                  ids: list[strawberry.ID] | None = None) -> ReplayResult:
        count = await info.context.services.outbox.replay(
            info.context.caller, [str(i) for i in ids] if ids is not None else None)
        return ReplayResult(replayed=count)
