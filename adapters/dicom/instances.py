"""The imaging adapters and configuration from settings: the PACS (DICOMweb on the shared,
guarded HTTP client, or a stand-in answering 502 when none is configured), viewer tokens,
the SQL store and the SR builder."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.engine import session_factory
from adapters.db.imaging import SqlImagingStore
from adapters.dicom.dicomweb import DicomwebPacs
from adapters.dicom.memory import UnconfiguredPacs
from adapters.dicom.structured_report import HighdicomReports
from adapters.dicom.viewer_tokens import PasetoViewerTokens, load_or_create_viewer_key
from adapters.http.outbound import OutboundPolicy
from adapters.settings import Settings
from resolvers.clock import SystemClock
from resolvers.imaging.model import ImagingConfig
from resolvers.imaging.ports import ImagingAdapters, Pacs


def imaging_config(settings: Settings) -> ImagingConfig:
    pacs = settings.pacs
    return ImagingConfig(public_base_url=settings.public_base_url,
                         viewer_url_template=pacs.viewer_url_template,
                         token_seconds=pacs.viewer_token_seconds,
                         patient_id_systems=pacs.patient_id_systems, write_sr=pacs.write_sr)


def dicom_adapters(settings: Settings, client: httpx.AsyncClient, engine: AsyncEngine,
                   on_commit: Callable[[], None]) -> tuple[ImagingAdapters, ImagingConfig]:
    """An annotation's versions and their SR message commit on the writer (waking this
    process's outbox worker)."""
    pacs = settings.pacs
    found: Pacs = UnconfiguredPacs()
    if pacs.base_url:
        found = DicomwebPacs(pacs.base_url, client, OutboundPolicy(settings.outbound_allowlist),
                             wado_uri_url=pacs.wado_uri_url, username=pacs.username,
                             password=pacs.password, timeout_seconds=pacs.timeout_seconds)
    return ImagingAdapters(
        pacs=found,
        tokens=PasetoViewerTokens(load_or_create_viewer_key(settings.data_dir,
                                                            pacs.viewer_token_key)),
        store=SqlImagingStore(session_factory(engine), SystemClock().now, on_commit),
        reports=HighdicomReports(), configured=bool(pacs.base_url)), imaging_config(settings)
