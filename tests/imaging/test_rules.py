"""Domain rules without HTTP: whose study it is (systems and issuers), which proxy paths are
DICOMweb paths of a study, and the SR delivery's permanent and transient failures (on the
in-memory PACS twin)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pydicom
import pytest

from adapters.dicom.memory import InMemoryPacs
from adapters.dicom.structured_report import HighdicomReports, uid_from
from resolvers.imaging.access import belongs_to
from resolvers.imaging.model import (
    AnnotationKind,
    AnnotationPage,
    AnnotationVersion,
    ImagingConfig,
    KnownStudy,
    PatientIdSystem,
    SrState,
    StudySummary,
)
from resolvers.imaging.proxy import STUDY_LEVEL, _below_study
from resolvers.imaging.sr_delivery import StructuredReportDelivery
from resolvers.outbox.delivery import PermanentDeliveryError
from resolvers.outbox.model import NewOutboxMessage, OutboxMessage, OutboxStatus
from tests.imaging.dicom_files import make_study

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _config(*systems: PatientIdSystem) -> ImagingConfig:
    return ImagingConfig(public_base_url="", viewer_url_template="{study_uid}",
                         token_seconds=60, patient_id_systems=systems)


def _study(patient: str | None, issuer: str | None = None) -> StudySummary:
    return StudySummary("1.2.3", patient, issuer, None, None, None, ())


def test_a_study_belongs_by_a_configured_system_and_issuer() -> None:
    ids = [("urn:mrn", "M1"), ("urn:nid", "N1")]
    assert belongs_to(_study("M1"), ids, _config(PatientIdSystem("urn:mrn")))
    assert not belongs_to(_study("N1"), ids, _config(PatientIdSystem("urn:mrn")))
    with_issuer = _config(PatientIdSystem("urn:mrn", "HOSP-A"))
    assert belongs_to(_study("M1", "HOSP-A"), ids, with_issuer)
    assert not belongs_to(_study("M1", "HOSP-B"), ids, with_issuer)
    assert not belongs_to(_study("M1"), ids, with_issuer)
    assert belongs_to(_study("N1"), ids, _config())  # no mapping: any identifier system
    assert not belongs_to(_study(None), ids, _config())


@pytest.mark.parametrize(("tail", "expected"), [
    ("", STUDY_LEVEL), ("metadata", STUDY_LEVEL), ("series", STUDY_LEVEL),
    ("series/1.2.4", "1.2.4"), ("series/1.2.4/metadata", "1.2.4"),
    ("series/1.2.4/instances", "1.2.4"), ("series/1.2.4/instances/1.2.5", "1.2.4"),
    ("series/1.2.4/instances/1.2.5/frames/1,2,3", "1.2.4"),
    ("series/1.2.4/instances/1.2.5/frames/1/rendered", "1.2.4"),
    ("series/1.2.4/instances/1.2.5/rendered", "1.2.4"),
    ("series/..", None), ("series/1.2.4/instances/1.2.5/frames/0", None),
    ("series/1.2.4/instances/1.2.5/frames/1/bulkdata/x", None), ("bulkdata", None),
    ("series/1.2.4/../../1.2.9", None),
])
def test_only_dicomweb_paths_below_the_study_are_passed_on(tail: str,
                                                           expected: str | None) -> None:
    assert _below_study([p for p in tail.split("/") if p]) == expected


class _Store:
    """Enough of the ImagingStore for the SR delivery."""

    def __init__(self, versions: list[AnnotationVersion]) -> None:
        self.versions = {(v.annotation_id, v.version): v for v in versions}
        self.stored: list[tuple[str, int]] = []

    async def get_version(self, annotation_id: str, version: int) -> AnnotationVersion | None:
        return self.versions.get((annotation_id, version))

    async def mark_sr_stored(self, annotation_id: str, version: int) -> None:
        self.stored.append((annotation_id, version))

    async def remember_study(self, study: KnownStudy) -> None: ...
    async def known_study(self, study_uid: str) -> KnownStudy | None: ...
    async def latest_versions(self, ids: Any) -> dict[str, tuple[int, str]]: return {}
    async def add_versions(self, versions: Any, messages: Any) -> None: ...
    async def page(self, study_uid: str, *, after: str | None, limit: int,
                   all_versions: bool) -> AnnotationPage: return AnnotationPage()


def _message(versions: list[tuple[str, int]]) -> OutboxMessage:
    new = NewOutboxMessage("pacs-sr", {"study_uid": "x", "versions": versions}, "key-1")
    return OutboxMessage(id="m1", destination=new.destination, payload=new.payload,
                         idempotency_key=new.idempotency_key, status=OutboxStatus.PENDING,
                         attempts=0, next_attempt_at=NOW, created_at=NOW)


def _twin_with_study() -> tuple[InMemoryPacs, AnnotationVersion]:
    study = make_study("P-RULES")
    instance = study.instances[0]
    dataset = pydicom.dcmread(io.BytesIO(instance.data))
    metadata = dataset.to_json_dict(bulk_data_threshold=64,
                                    bulk_data_element_handler=lambda e: "http://pacs/bulk")
    pacs = InMemoryPacs()
    pacs.add(StudySummary(study.study_uid, "P-RULES", None, None, None, None, ()),
             {(instance.series_uid, instance.instance_uid): metadata})
    version = AnnotationVersion(
        "a-1", 1, study.study_uid, "patient-1", AnnotationKind.MEASUREMENT,
        instance.series_uid, instance.instance_uid, 1, (1, 1, 9, 9), "Diameter", None, 11.3,
        "mm", "dr-okello", NOW, SrState.PENDING)
    return pacs, version


async def test_the_sr_delivery_stores_an_sr_and_marks_the_versions() -> None:
    pacs, version = _twin_with_study()
    store = _Store([version])
    await StructuredReportDelivery(store, pacs, HighdicomReports()).deliver(
        _message([["a-1", 1]]))  # type: ignore[list-item]
    [sr] = [pydicom.dcmread(io.BytesIO(d)) for d in pacs.stored]
    assert sr.SOPInstanceUID == uid_from("key-1", "instance")  # a retry replaces, not adds
    assert sr.StudyInstanceUID == version.study_uid and sr.PatientID == "P-RULES"
    assert store.stored == [("a-1", 1)]


async def test_the_sr_delivery_is_transient_when_down_and_permanent_when_unknown() -> None:
    pacs, version = _twin_with_study()
    store = _Store([version])
    delivery = StructuredReportDelivery(store, pacs, HighdicomReports())
    pacs.down = True
    with pytest.raises(ConnectionError):  # retried by the worker
        await delivery.deliver(_message([["a-1", 1]]))  # type: ignore[list-item]
    pacs.down = False
    with pytest.raises(PermanentDeliveryError):
        await delivery.deliver(_message([["missing", 1]]))  # type: ignore[list-item]
    pacs.metadata.clear()
    with pytest.raises(PermanentDeliveryError, match="no instance"):
        await delivery.deliver(_message([["a-1", 1]]))  # type: ignore[list-item]
    assert store.stored == [] and pacs.stored == []
