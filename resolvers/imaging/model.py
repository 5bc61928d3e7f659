"""What the imaging use cases and their adapters exchange: studies as the PACS describes
them, viewer grants, and versioned annotations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class PatientIdSystem:
    """An MPI identifier system whose values are PACS PatientIDs; with ``issuer``, only for
    studies whose IssuerOfPatientID is that issuer."""

    system: str
    issuer: str | None = None


@dataclass(frozen=True)
class ImagingConfig:
    public_base_url: str  # the gateway as viewers reach it
    viewer_url_template: str  # {study_uid}, {dicomweb_root} (URL-quoted), {token}
    token_seconds: int
    patient_id_systems: tuple[PatientIdSystem, ...]
    write_sr: bool = True  # queue a DICOM SR (TID 1500) of each annotation version for the PACS

    def viewer_root(self, token: str, base_url: str = "") -> str:
        """Where a token's routes are: CARI_PUBLIC_BASE_URL, else the URL the caller used."""
        base = (self.public_base_url or base_url).rstrip("/")
        return f"{base}/api/clinical/dicom/viewer/{token}"


@dataclass(frozen=True)
class SeriesSummary:
    series_uid: str
    modality: str | None
    number: int | None
    description: str | None
    instances: int


@dataclass(frozen=True)
class StudySummary:
    """A study as QIDO-RS answers it: whose it is in the PACS, and its series."""

    study_uid: str
    pacs_patient_id: str | None
    issuer_of_patient_id: str | None
    started: datetime | None
    description: str | None
    accession_number: str | None
    series: tuple[SeriesSummary, ...]

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(sorted({s.modality for s in self.series if s.modality}))

    @property
    def instances(self) -> int:
        return sum(s.instances for s in self.series)


@dataclass(frozen=True)
class ViewerGrant:
    """What a signed viewer token carries: one study, of one patient, until ``expires_at``."""

    token_id: str
    study_uid: str
    patient_id: str
    subject: str  # who was given the URL (the audit records of its use name them)
    expires_at: datetime


@dataclass(frozen=True)
class KnownStudy:
    """A study whose ownership an access call checked against the MPI (annotations attach
    to it without asking the PACS again)."""

    study_uid: str
    patient_id: str
    checked_at: datetime


@dataclass(frozen=True)
class AccessView:
    viewer_url: str
    dicomweb_root: str
    expires_at: datetime
    study_uid: str
    patient_id: str
    imaging_study: dict[str, Any]  # a FHIR R4 ImagingStudy, validated


class AnnotationKind(StrEnum):
    MEASUREMENT = "measurement"
    REGION = "region"
    TEXT = "text"


class SrState(StrEnum):
    """The DICOM Structured Report copy of an annotation version in the PACS."""

    PENDING = "pending"  # queued in the outbox; a PACS outage only delays it
    STORED = "stored"
    DISABLED = "disabled"  # CARI_PACS_WRITE_SR is off


@dataclass(frozen=True)
class AnnotationDraft:
    """One annotation as a caller sends it (validated at the surface)."""

    annotation_id: str | None  # None: a new annotation; given: a new version of it
    kind: AnnotationKind
    series_uid: str
    instance_uid: str
    frame: int
    coordinates: tuple[float, ...]  # image coordinates (column, row) pairs
    label: str | None = None
    text: str | None = None
    value: float | None = None
    unit: str | None = None


@dataclass(frozen=True)
class AnnotationVersion:
    annotation_id: str
    version: int
    study_uid: str
    patient_id: str
    kind: AnnotationKind
    series_uid: str
    instance_uid: str
    frame: int
    coordinates: tuple[float, ...]
    label: str | None
    text: str | None
    value: float | None
    unit: str | None
    author: str
    created_at: datetime
    sr_state: SrState = SrState.DISABLED


@dataclass(frozen=True)
class AnnotationPage:
    items: list[AnnotationVersion] = field(default_factory=list)
    next_cursor: str | None = None
