"""Stored FHIR resources, their search index entries and search requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The outbox messages a FHIR write sends to its mirrors (e.g. Medplum).
FHIR_UPSERT = "fhir.upsert"
FHIR_DELETE = "fhir.delete"


@dataclass(frozen=True)
class StoredResource:
    resource_type: str
    id: str
    version: int
    last_updated: datetime
    deleted: bool
    document: dict[str, Any]  # the resource with meta.versionId/lastUpdated set; {} if deleted

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'


@dataclass(frozen=True)
class IndexEntry:
    """One searchable value of a resource: a token, string, reference or date range."""

    param: str
    system: str | None = None
    value: str | None = None
    date_lo: datetime | None = None
    date_hi: datetime | None = None


@dataclass(frozen=True)
class Condition:
    """One search parameter of a request; ``values`` are OR-ed, conditions are AND-ed."""

    param: str
    kind: str  # token | string | reference | date | id | lastUpdated
    values: tuple[Any, ...]
    modifier: str = ""


@dataclass(frozen=True)
class DateBound:
    prefix: str  # eq ne gt lt ge le
    lo: datetime
    hi: datetime


@dataclass(frozen=True)
class SearchRequest:
    resource_type: str
    conditions: tuple[Condition, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    count: int = 20
    offset: int = 0
    applied: tuple[tuple[str, str], ...] = field(default=())  # for the self link
    # At most this many resources per patient (after sorting; the page and the total are
    # over what is kept): the newest few results of each patient on a page of patients.
    per_patient: int | None = None


@dataclass(frozen=True)
class SearchPage:
    resources: list[StoredResource]
    total: int
    # The resources' documents as stored (JSON text), where the store read them as text:
    # a response that sends them unchanged splices them in instead of encoding them again.
    raw_documents: tuple[str, ...] | None = None
