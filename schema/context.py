"""The typed GraphQL context, with DataLoaders built fresh for every request."""

from dataclasses import dataclass
from typing import TypeAlias

import strawberry
from starlette.requests import Request
from strawberry.dataloader import DataLoader

from resolvers.directory.model import Organization
from resolvers.mpi.model import Patient
from resolvers.principal import Caller
from resolvers.services import Services


@dataclass
class Loaders:
    patient: DataLoader[str, Patient | None]
    organization: DataLoader[str, Organization | None]


def build_loaders(services: Services, caller: Caller) -> Loaders:
    async def load_patients(ids: list[str]) -> list[Patient | None]:
        found = await services.patients.get_many(caller, ids)
        return [found.get(i) for i in ids]

    async def load_organizations(ids: list[str]) -> list[Organization | None]:
        found = await services.organizations.get_many(caller, ids)
        return [found.get(i) for i in ids]

    return Loaders(patient=DataLoader(load_fn=load_patients),
                   organization=DataLoader(load_fn=load_organizations))


@dataclass
class GraphQLContext:
    request: Request
    caller: Caller
    services: Services
    loaders: Loaders


Info: TypeAlias = strawberry.Info[GraphQLContext, None]
