"""Ports of the directory (organizations)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from resolvers.directory.model import Organization
from resolvers.fhir.ports import FhirWriteUnitOfWork


class OrganizationRepository(Protocol):
    async def get_many(self, ids: Sequence[str]) -> dict[str, Organization]: ...
    async def add(self, organization: Organization) -> None: ...
    async def update(self, organization: Organization) -> None: ...
    async def search(self, *, name: str | None, after: str | None, limit: int) -> list[Organization]: ...
    async def descendants(self, ids: Sequence[str], *, max_depth: int = 16) -> set[str]:
        """These organizations and all below them (part_of, transitively)."""
        ...


class DirectoryUnitOfWork(FhirWriteUnitOfWork, Protocol):
    @property
    def organizations(self) -> OrganizationRepository: ...


DirectoryUnitOfWorkFactory = Callable[[], DirectoryUnitOfWork]
