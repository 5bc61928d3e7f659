"""Reading DICOM JSON (PS3.18 F.2) as QIDO-RS answers it into the imaging model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from resolvers.imaging.model import SeriesSummary, StudySummary

PATIENT_ID, ISSUER = "00100020", "00100021"
STUDY_DATE, STUDY_TIME, STUDY_DESCRIPTION = "00080020", "00080030", "00081030"
ACCESSION, SERIES_UID, MODALITY = "00080050", "0020000E", "00080060"
SERIES_NUMBER, SERIES_DESCRIPTION, SERIES_INSTANCES = "00200011", "0008103E", "00201209"
STUDY_FIELDS = ("PatientID", "IssuerOfPatientID", "StudyDate", "StudyTime", "StudyDescription",
                "AccessionNumber")
SERIES_FIELDS = ("Modality", "SeriesNumber", "SeriesDescription",
                 "NumberOfSeriesRelatedInstances")


def value(dataset: dict[str, Any], tag: str) -> Any:
    values = dataset.get(tag, {}).get("Value") or [None]
    first = values[0]
    if isinstance(first, dict) and "Alphabetic" in first:  # a PN
        return first["Alphabetic"]
    return first


def _text(dataset: dict[str, Any], tag: str) -> str | None:
    found = value(dataset, tag)
    return str(found).strip() or None if found is not None else None


def _int(dataset: dict[str, Any], tag: str) -> int | None:
    found = value(dataset, tag)
    try:
        return int(found) if found is not None else None
    except (TypeError, ValueError):
        return None


def _started(dataset: dict[str, Any]) -> datetime | None:
    day = _text(dataset, STUDY_DATE)
    if not day or len(day) != 8 or not day.isdigit():
        return None
    clock = (_text(dataset, STUDY_TIME) or "000000").split(".")[0].ljust(6, "0")[:6]
    try:
        return datetime.strptime(day + clock, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)


def study_summary(study_uid: str, study: dict[str, Any],
                  series: Sequence[dict[str, Any]]) -> StudySummary:
    return StudySummary(
        study_uid=study_uid, pacs_patient_id=_text(study, PATIENT_ID),
        issuer_of_patient_id=_text(study, ISSUER), started=_started(study),
        description=_text(study, STUDY_DESCRIPTION), accession_number=_text(study, ACCESSION),
        series=tuple(sorted((SeriesSummary(
            series_uid=str(value(s, SERIES_UID)), modality=_text(s, MODALITY),
            number=_int(s, SERIES_NUMBER), description=_text(s, SERIES_DESCRIPTION),
            instances=_int(s, SERIES_INSTANCES) or 0) for s in series if value(s, SERIES_UID)),
            key=lambda s: (s.number is None, s.number or 0, s.series_uid))))
