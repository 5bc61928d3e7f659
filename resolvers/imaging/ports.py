"""What the imaging use cases need from the world: the PACS, viewer token signing, storage
and the MPI's identifiers of a patient."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from resolvers.imaging.model import (
    AnnotationPage,
    AnnotationVersion,
    KnownStudy,
    StudySummary,
    ViewerGrant,
)
from resolvers.outbox.model import NewOutboxMessage
from resolvers.principal import Caller


@dataclass(frozen=True)
class PacsRequest:
    """A DICOMweb GET relative to the PACS's root (``studies/1.2.3/series``) or a WADO-URI
    query (``path`` empty, ``wado_uri`` True); ``query`` is passed through as given."""

    path: str
    query: Sequence[tuple[str, str]] = ()
    accept: str | None = None
    wado_uri: bool = False
    public_root: str = ""  # the PACS's own URLs in DICOM JSON answers become this root


class PacsAnswer(Protocol):
    status: int
    content_type: str | None

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as the PACS sends it, chunk by chunk (never the whole study at once)."""
        ...


class Pacs(Protocol):
    async def find_study(self, study_uid: str) -> StudySummary | None:
        """QIDO-RS: the study and its series; None when the PACS has no such study.
        Raises PacsUnavailable when the PACS cannot answer."""
        ...

    def fetch(self, request: PacsRequest) -> AbstractAsyncContextManager[PacsAnswer]:
        """A streamed GET (WADO-RS, QIDO-RS, WADO-URI); raises PacsUnavailable on entry."""
        ...

    async def instance_metadata(self, study_uid: str, series_uid: str,
                                instance_uid: str) -> dict[str, Any] | None:
        """WADO-RS metadata (DICOM JSON) of one instance; None when it is not there."""
        ...

    async def store(self, datasets: Sequence[bytes]) -> None:
        """STOW-RS of Part 10 files; PacsUnavailable when it cannot be done now."""
        ...


class ViewerTokens(Protocol):
    def issue(self, grant: ViewerGrant) -> str: ...

    def read(self, token: str) -> ViewerGrant:
        """The grant a token carries; ViewerTokenRefused when forged or expired."""
        ...


class PatientIdentifiers(Protocol):
    async def identifiers(self, caller: Caller, patient_id: str) -> Sequence[tuple[str, str]]:
        """The patient's (system, value) identifiers in the MPI; NotFound when unknown."""
        ...


class StructuredReports(Protocol):
    def build(self, versions: Sequence[AnnotationVersion],
              sources: Mapping[str, dict[str, Any]], key: str) -> bytes:
        """A DICOM SR (TID 1500) of ``versions`` as a Part 10 file; ``sources`` are the
        referenced instances' metadata (DICOM JSON) by SOP Instance UID; ``key`` makes the
        SR's UIDs (the same key, the same SR)."""
        ...


class ImagingStore(Protocol):
    async def remember_study(self, study: KnownStudy) -> None: ...

    async def known_study(self, study_uid: str) -> KnownStudy | None: ...

    async def latest_versions(self, annotation_ids: Sequence[str]
                              ) -> dict[str, tuple[int, str]]:
        """(latest version, study UID) of each annotation id that exists."""
        ...

    async def add_versions(self, versions: Sequence[AnnotationVersion],
                           messages: Sequence[NewOutboxMessage]) -> None:
        """The versions and their outbox messages in one transaction; a version number
        already taken raises Conflict (two writers on one annotation)."""
        ...

    async def get_version(self, annotation_id: str, version: int) -> AnnotationVersion | None: ...

    async def page(self, study_uid: str, *, after: str | None, limit: int,
                   all_versions: bool) -> AnnotationPage: ...

    async def mark_sr_stored(self, annotation_id: str, version: int) -> None: ...


@dataclass(frozen=True)
class ImagingAdapters:
    pacs: Pacs
    tokens: ViewerTokens
    store: ImagingStore
    reports: StructuredReports
    configured: bool
