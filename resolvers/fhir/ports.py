"""Ports of the FHIR capability."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from resolvers.audit.model import AuditRecord
from resolvers.audit.ports import AuditLog
from resolvers.fhir.issues import Issue
from resolvers.fhir.model import IndexEntry, SearchPage, SearchRequest, StoredResource
from resolvers.outbox.ports import OutboxWriter
from resolvers.tenancy import OrganizationTree, PatientOrganizations
from resolvers.transaction import Transaction


class FhirRepository(Protocol):
    """Versioned FHIR documents with extracted search values (one per unit of work)."""

    async def get_many(self, resource_type: str, ids: Sequence[str]) -> dict[str, StoredResource]:
        """Current versions, deleted ones included (``deleted`` is True, document empty)."""
        ...
    async def get_version(self, resource_type: str, id: str, version: int) -> StoredResource | None: ...
    async def history(self, resource_type: str, id: str) -> list[StoredResource]:
        """Every version, newest first."""
        ...
    async def put(self, resource: StoredResource, index: Sequence[IndexEntry],
                  sort_date: datetime | None, *, expected_version: int | None) -> bool:
        """Store a new version. ``expected_version`` None: the id must be new; otherwise the
        current version must still be that one. False when the check fails."""
        ...
    async def create_many(self, items: Sequence[tuple[StoredResource, Sequence[IndexEntry],
                                                      datetime | None]]) -> None:
        """Store version 1 of resources whose ids are new (a collision raises)."""
        ...
    async def find_by_identifier(self, resource_type: str, keys: Sequence[tuple[str, str]],
                                 ) -> dict[tuple[str, str], StoredResource]:
        """Current resources carrying any of the ``(system, value)`` identifiers."""
        ...
    async def search(self, request: SearchRequest) -> SearchPage: ...


class ResourceValidator(Protocol):
    def validate(self, resource: Any, *, path: str | None = None) -> list[Issue]:
        """Every problem of ``resource`` (a parsed JSON value), not only the first.

        ``path`` prefixes the expressions when the resource sits inside another one, e.g.
        ``Bundle.entry[2].resource``; by default expressions start at the resource type.
        Structure (layer 1, the R4 definitions) and the documented rules (layer 2) are both
        checked. An empty list means valid. Never raises for bad input.
        """
        ...


class FhirWriteUnitOfWork(Transaction, Protocol):
    """What a FHIR write needs: the store, and the outbox for the mirrors."""

    @property
    def fhir(self) -> FhirRepository: ...
    @property
    def outbox(self) -> OutboxWriter: ...


class FhirUnitOfWork(FhirWriteUnitOfWork, Protocol):
    """The FHIR use cases' unit of work: writes, their audit, and organization scoping."""

    @property
    def audit(self) -> AuditLog: ...
    @property
    def patients(self) -> PatientOrganizations: ...
    @property
    def organizations(self) -> OrganizationTree: ...


FhirUnitOfWorkFactory = Callable[[], FhirUnitOfWork]
# A resource with a twin elsewhere (the MPI patient of a FHIR Patient, the directory entry of
# an Organization) is kept in step inside the same transaction: the caller binds the twin's
# writer to its own unit of work (resolvers/mpi/fhir_twin.py, resolvers/directory/fhir_twin.py).
TwinWriter = Callable[[StoredResource, datetime], Awaitable[None]]


class PatientRegistrar(Protocol):
    """Creates of FHIR Patients, written with the other registrations that arrive at the same
    moment (the MPI's grouped registration, resolvers/mpi/registration.py): one shared
    commit, answered only after it. Raises the FHIR problem a refused create gets."""

    async def register(self, stored: StoredResource, audit: Sequence[AuditRecord]) -> None:
        """Store version 1 of ``stored`` (a new id) and its MPI twin, with ``audit``."""
        ...


class TwinWriters(Protocol):
    """Which twin writer a FHIR write of a resource type needs, bound to the writer's unit of
    work (the composition root knows the concrete unit of work and the twins)."""

    def bound(self, resource_type: str, uow: FhirWriteUnitOfWork) -> TwinWriter | None: ...
