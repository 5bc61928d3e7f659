"""Ports of the MPI capability."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from resolvers.audit.ports import AuditLog
from resolvers.fhir.ports import FhirRepository
from resolvers.mpi.model import Identifier, Patient, PatientQuery
from resolvers.mpi.scoring.profile import RegisterProfile
from resolvers.mpi.scoring.record import MatchRecord
from resolvers.outbox.ports import OutboxWriter
from resolvers.tenancy import OrganizationTree
from resolvers.transaction import Transaction


class PatientRepository(Protocol):
    async def get_many(self, ids: Sequence[str]) -> dict[str, Patient]: ...
    async def get_many_with_organizations(
            self, ids: Sequence[str]) -> tuple[dict[str, Patient], Mapping[str, object]]:
        """:meth:`get_many`, and the managing organizations of the patients found, by id."""
        ...
    async def find_by_identifier(self, identifier: Identifier) -> Patient | None: ...
    async def add(self, patient: Patient) -> None: ...
    async def owners_of(self, identifiers: Sequence[Identifier]) -> dict[Identifier, str]:
        """The patient id holding each of these identifiers, for those that are taken."""
        ...
    async def add_many(self, patients: Sequence[tuple[Patient, str | None]]) -> None:
        """Insert new patients, each with its address (the match index compares it; the
        patient row has none), in a few multi-row statements; indexed like :meth:`add`."""
        ...
    async def update(self, patient: Patient, *, expected_version: int) -> bool:
        """Write ``patient`` if the stored version is still ``expected_version``."""
        ...
    async def search(self, query: PatientQuery) -> list[Patient]: ...


class OrganizationLookup(OrganizationTree, Protocol):
    """What the MPI asks of the directory: does a managing organization exist (and, for
    scoping, what lies below it)."""

    async def get_many(self, ids: Sequence[str]) -> Mapping[str, object]: ...


class MpiUnitOfWork(Transaction, Protocol):
    @property
    def patients(self) -> PatientRepository: ...
    @property
    def organizations(self) -> OrganizationLookup: ...
    @property
    def fhir(self) -> FhirRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def outbox(self) -> OutboxWriter: ...


MpiUnitOfWorkFactory = Callable[[], MpiUnitOfWork]


class MatchIndex(Protocol):
    """The blocking index the matcher reads: who shares a blocking key with a record."""

    async def candidates(self, record: MatchRecord, *,
                         max_candidates: int = ...) -> list[tuple[str, MatchRecord]]:
        """Best-ranked first (most shared keys), at most ``max_candidates``."""
        ...


class MatchingUnitOfWork(Transaction, Protocol):
    """A unit of work the matcher can look up in, inside its transaction."""

    @property
    def match_index(self) -> MatchIndex: ...


class ProfiledMatcher(Protocol):
    """A matcher that picks its default parameters by the kind of register it reads
    (resolvers/mpi/scoring/profile.py)."""

    @property
    def profile(self) -> RegisterProfile | None: ...
    @property
    def uses_operator_parameters(self) -> bool: ...
    async def refresh_profile(self) -> RegisterProfile: ...
    async def refresh_profile_if_stale(self) -> RegisterProfile | None: ...
