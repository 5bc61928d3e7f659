"""SQLModel tables of DICOM imaging (migration 0015 creates them; keep in sync)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from adapters.db.types import JsonDocument, UTCDateTime


def _ts() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=False))


class ImagingStudyRow(SQLModel, table=True):
    """A study an access call found in the PACS and checked against the MPI: annotations
    attach to it (and name its patient) without asking the PACS again."""

    __tablename__ = "imaging_studies"

    study_uid: str = Field(primary_key=True, max_length=64)
    patient_id: str = Field(max_length=64)
    checked_at: datetime = _ts()


class ImagingAnnotationRow(SQLModel, table=True):
    """One version of one annotation; ``is_latest`` marks the version the list shows."""

    __tablename__ = "imaging_annotations"
    __table_args__ = (Index("ix_imaging_annotations_study", "study_uid", "annotation_id",
                            "version"),)

    annotation_id: str = Field(primary_key=True, max_length=64)
    version: int = Field(primary_key=True)
    study_uid: str = Field(max_length=64)
    patient_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    series_uid: str = Field(max_length=64)
    instance_uid: str = Field(max_length=64)
    frame: int
    coordinates: list[float] = Field(sa_column=Column(JsonDocument, nullable=False))
    label: str | None = Field(default=None, max_length=200)
    text: str | None = Field(default=None, max_length=4000)
    value: float | None = None
    unit: str | None = Field(default=None, max_length=32)
    author: str = Field(max_length=200)
    created_at: datetime = _ts()
    sr_state: str = Field(max_length=16)
    is_latest: bool = Field(default=True)
