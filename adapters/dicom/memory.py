"""The PACS's in-memory twin: studies, instance metadata and stored SRs held in dicts.

It answers like the DICOMweb adapter (tests/imaging/test_pacs_contract.py runs one suite
against both); ``down`` makes every call fail as an unreachable PACS does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from adapters.dicom.dicomweb import StreamedAnswer
from resolvers.imaging.errors import PacsUnavailable
from resolvers.imaging.model import StudySummary
from resolvers.imaging.ports import PacsRequest


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    yield body


class InMemoryPacs:
    def __init__(self) -> None:
        self.studies: dict[str, StudySummary] = {}
        self.metadata: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.stored: list[bytes] = []
        self.fetched: list[PacsRequest] = []
        self.down = False

    def add(self, study: StudySummary,
            instances: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
        """A study and its instances' metadata by (series UID, SOP instance UID)."""
        self.studies[study.study_uid] = study
        for (series_uid, instance_uid), metadata in (instances or {}).items():
            self.metadata[(study.study_uid, series_uid, instance_uid)] = metadata

    def _check(self) -> None:
        if self.down:
            raise PacsUnavailable("the PACS cannot be reached")

    async def find_study(self, study_uid: str) -> StudySummary | None:
        self._check()
        return self.studies.get(study_uid)

    async def instance_metadata(self, study_uid: str, series_uid: str,
                                instance_uid: str) -> dict[str, Any] | None:
        self._check()
        return self.metadata.get((study_uid, series_uid, instance_uid))

    async def store(self, datasets: Sequence[bytes]) -> None:
        self._check()
        self.stored.extend(datasets)

    @asynccontextmanager
    async def fetch(self, request: PacsRequest) -> AsyncIterator[StreamedAnswer]:
        """WADO-RS metadata of a known study or instance; anything else 404."""
        self._check()
        self.fetched.append(request)
        parts = request.path.split("/")
        study = parts[1] if len(parts) > 1 else ""
        found = [m for (s, se, i), m in self.metadata.items() if s == study and (
            len(parts) < 4 or se == parts[3]) and (len(parts) < 6 or i == parts[5])]
        if not found or parts[-1] != "metadata":
            yield StreamedAnswer(404, "application/json", lambda: _chunks(b"[]"))
            return
        body = json.dumps(found).encode()
        yield StreamedAnswer(200, "application/dicom+json", lambda: _chunks(body))


class UnconfiguredPacs(InMemoryPacs):
    """What the gateway runs without CARI_PACS_BASE_URL: every PACS call answers 502."""

    def _check(self) -> None:
        raise PacsUnavailable("no PACS is configured (CARI_PACS_BASE_URL)")
