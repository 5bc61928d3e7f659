"""The typed GraphQL context, with DataLoaders built fresh for every request."""

# Annotations stay strings: the loader functions below are defined on every request, and
# evaluated annotations made a dozen list[...] / X | None objects each time.
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

import strawberry
from starlette.requests import Request
from strawberry.dataloader import DataLoader

from resolvers.directory.model import Organization
from resolvers.fhir.model import StoredResource
from resolvers.labs.queries import LabResultFilter, LabResultView
from resolvers.mpi.model import Patient
from resolvers.payments.model import PaymentTransition
from resolvers.payments.view import PaymentView
from resolvers.principal import Caller
from resolvers.services import Services


@dataclass
class Loaders:
    patient: DataLoader[str, Patient | None]
    organization: DataLoader[str, Organization | None]
    fhir: DataLoader[tuple[str, str], StoredResource | None]
    lab_results: DataLoader[tuple[str, int], list[LabResultView]]  # (patient id, first)
    payments: DataLoader[str, list[PaymentView]]  # by patient id
    payment_history: DataLoader[str, list[PaymentTransition]]  # by payment id
    # Managing organizations read with their patients (see KnownOrganizations).
    organizations: KnownOrganizations = field(default_factory=lambda: KnownOrganizations())
    # Lab results a list field read ahead for its patients (schema/prefetch.py).
    lab_results_ready: dict[tuple[str, int], list[LabResultView]] = field(default_factory=dict)


@dataclass
class KnownOrganizations:
    """Managing organizations read with their patients, in the patients' unit of work, once
    a patient(id:) field whose selection asks for managingOrganization sets ``wanted``
    (before loading): Patient.managingOrganization answers from ``found`` without a second
    round of loading; None for an organization that was not found. Apart from Loaders, so
    the loader functions need no reference to the Loaders holding them: a cycle there made
    every request's loaders garbage for the cycle collector instead of freed at once."""

    wanted: bool = False
    found: dict[str, Organization | None] = field(default_factory=dict)


def build_loaders(services: Services, caller: Caller) -> Loaders:
    organizations = KnownOrganizations()

    async def load_patients(ids: list[str]) -> list[Patient | None]:
        if not organizations.wanted:
            found = await services.patients.get_many(caller, ids)
            return [found.get(i) for i in ids]
        found, orgs = await services.patients.get_many_with_organizations(caller, ids)
        for p in found.values():
            if p.organization_id is not None:
                org = orgs.get(p.organization_id)
                organizations.found[p.organization_id] = (
                    org if isinstance(org, Organization) else None)
        return [found.get(i) for i in ids]

    async def load_organizations(ids: list[str]) -> list[Organization | None]:
        found = await services.organizations.get_many(caller, ids)
        return [found.get(i) for i in ids]

    async def load_fhir(keys: list[tuple[str, str]]) -> list[StoredResource | None]:
        by_type: dict[str, list[str]] = {}
        for resource_type, resource_id in keys:
            by_type.setdefault(resource_type, []).append(resource_id)
        found: dict[tuple[str, str], StoredResource] = {}
        for resource_type, ids in by_type.items():  # one query per type, not per reference
            for rid, stored in (await services.fhir.read_many(caller, resource_type, ids)).items():
                found[(resource_type, rid)] = stored
        return [found.get(k) for k in keys]

    async def load_lab_results(keys: list[tuple[str, int]]) -> list[list[LabResultView]]:
        # One search for every patient on the page: each patient's newest `first`.
        found: dict[tuple[str, int], list[LabResultView]] = {}
        for first in dict.fromkeys(n for _p, n in keys):  # one per page size asked for
            patient_ids = list(dict.fromkeys(p for p, n in keys if n == first))
            grouped, _ = await services.lab_queries.results_for_patients(
                caller, patient_ids, LabResultFilter(), per_patient=first)
            found.update({(p, first): results for p, results in grouped.items()})
        return [found.get(k, []) for k in keys]

    async def load_payments(patient_ids: list[str]) -> list[list[PaymentView]]:
        # One query for every patient on the page (audited per patient).
        grouped = await services.payments.use_cases.for_patients(caller, patient_ids)
        return [grouped.get(p, []) for p in patient_ids]

    async def load_payment_history(payment_ids: list[str]) -> list[list[PaymentTransition]]:
        found = await services.payments.use_cases.history(payment_ids)
        return [found.get(p, []) for p in payment_ids]

    return Loaders(lab_results=DataLoader(load_fn=load_lab_results),
                   payments=DataLoader(load_fn=load_payments),
                   payment_history=DataLoader(load_fn=load_payment_history),
                   patient=DataLoader(load_fn=load_patients),
                   organization=DataLoader(load_fn=load_organizations),
                   fhir=DataLoader(load_fn=load_fhir), organizations=organizations)


@dataclass
class GraphQLContext:
    request: Request
    caller: Caller
    services: Services
    loaders: Loaders


Info: TypeAlias = strawberry.Info[GraphQLContext, None]
