from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from resolvers.mpi.model import Identifier


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    identifiers: tuple[Identifier, ...]
    country: str | None
    kind: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    part_of: str | None = None  # the parent organization (a district's facilities, ...)


@dataclass(frozen=True)
class OrganizationDraft:
    name: str
    identifiers: tuple[Identifier, ...] = ()
    country: str | None = None
    kind: str | None = None
    part_of: str | None = None
