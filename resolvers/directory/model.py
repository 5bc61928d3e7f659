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


@dataclass(frozen=True)
class OrganizationDraft:
    name: str
    identifiers: tuple[Identifier, ...] = ()
    country: str | None = None
    kind: str | None = None
