"""The patient as the gateway's core knows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

GENDERS = ("male", "female", "other", "unknown")


@dataclass(frozen=True)
class Identifier:
    system: str
    value: str


@dataclass(frozen=True)
class Patient:
    id: str
    identifiers: tuple[Identifier, ...]
    family: str | None
    given: tuple[str, ...]
    birth_date: date | None
    gender: str | None
    phone: str | None
    organization_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PatientDraft:
    """What a caller may set on a patient; validated by :func:`validate_patient_draft`."""

    identifiers: tuple[Identifier, ...] = ()
    family: str | None = None
    given: tuple[str, ...] = ()
    birth_date: date | None = None
    gender: str | None = None
    phone: str | None = None
    organization_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PatientQuery:
    identifier: Identifier | None = None
    family: str | None = None
    organization_id: str | None = None
    organization_ids: frozenset[str] | None = None  # organization scoping: only these
    after: str | None = None
    limit: int = 50
