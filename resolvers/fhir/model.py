"""Stored FHIR resources, their search index entries and search requests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


class SearchMatch:
    """One resource of a page as the store read it: its JSON text as stored, and the
    reference of its ``subject`` as the database read it out of that text.

    ``last_updated`` is converted from the store's own form (``stamp``) when first read:
    the responses a search usually feeds (a FHIR bundle of the stored texts, lab views)
    never read it, and converting each row's was a fortieth of a lab-results read. Built
    once per row on every search, so slotted and without dataclass machinery; nothing
    mutates a match after it is built."""

    __slots__ = ("_stamp", "_updated", "id", "lab_view", "resource_type", "subject_reference",
                 "text", "version")

    def __init__(self, resource_type: str, id: str, version: int, last_updated: Any,
                 text: str, subject_reference: str | None, lab_view: str | None = None,
                 stamp: Callable[[Any], datetime] | None = None) -> None:
        self.resource_type = resource_type
        self.id = id
        self.version = version
        self._updated = last_updated
        self.text = text
        self.subject_reference = subject_reference
        # The flattened lab view a store keeps with an Observation (resolvers.labs.view),
        # as text; None where it keeps none.
        self.lab_view = lab_view
        self._stamp = stamp

    @property
    def last_updated(self) -> datetime:
        if self._stamp is not None:
            self._updated, self._stamp = self._stamp(self._updated), None
        updated: datetime = self._updated
        return updated


class SearchPage:
    """A page of search results. A store that reads the documents as stored JSON text gives
    ``matches``: a response can splice the texts in unchanged, and the audit trail takes the
    patients from the subject references, so the documents are decoded (``resources``) only
    for callers that read them."""

    def __init__(self, resources: list[StoredResource] | None, total: int, *,
                 matches: Sequence[SearchMatch] | None = None,
                 decode: Callable[[str], dict[str, Any]] | None = None) -> None:
        if resources is None and (matches is None or decode is None):
            raise ValueError("a page needs its resources, or its matches and their decoder")
        self._resources = resources
        self._decode = decode
        self.total = total
        self.matches = tuple(matches) if matches is not None else None

    @property
    def resources(self) -> list[StoredResource]:
        if self._resources is None:
            assert self.matches is not None and self._decode is not None
            decode = self._decode
            self._resources = [StoredResource(
                resource_type=m.resource_type, id=m.id, version=m.version,
                last_updated=m.last_updated, deleted=False, document=decode(m.text) or {})
                for m in self.matches]
        return self._resources
