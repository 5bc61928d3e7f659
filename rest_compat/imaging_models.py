"""Bodies of the DICOM imaging routes (also their OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from resolvers.imaging.fhir_copy import observation_id
from resolvers.imaging.model import (
    AccessView,
    AnnotationDraft,
    AnnotationKind,
    AnnotationPage,
    AnnotationVersion,
)
from rest_compat.models import Strict

UID_PATTERN = r"^[0-9]+(\.[0-9]+)*$"
Uid = Annotated[str, Field(min_length=1, max_length=64, pattern=UID_PATTERN,
                           description="A DICOM UID")]
Coordinate = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
# Points each kind needs: a measurement's two ends, a region's outline, a text's anchor.
MIN_POINTS = {"measurement": 2, "region": 3, "text": 1}


class AccessBody(Strict):
    study_uid: Uid
    patient_id: str = Field(min_length=1, max_length=64, description="The gateway's patient id")


class AccessAnswer(BaseModel):
    viewer_url: str = Field(description="The viewer, opened on this study through the proxy")
    dicomweb_root: str = Field(description="The proxied DICOMweb root for this study only; "
                               "the token in it is the credential")
    expires_at: datetime
    study_uid: str
    patient_id: str
    imaging_study: dict[str, Any] = Field(description="FHIR R4 ImagingStudy")

    @classmethod
    def of(cls, view: AccessView) -> AccessAnswer:
        return cls(viewer_url=view.viewer_url, dicomweb_root=view.dicomweb_root,
                   expires_at=view.expires_at, study_uid=view.study_uid,
                   patient_id=view.patient_id, imaging_study=view.imaging_study)


class AnnotationBody(Strict):
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                           description="Absent: a new annotation; an existing id: its next "
                                       "version")
    type: Literal["measurement", "region", "text"]
    series_uid: Uid
    instance_uid: Uid
    frame: int = Field(default=1, ge=1, le=100_000, description="1-based frame number")
    coordinates: list[Coordinate] = Field(
        min_length=2, max_length=2000, description="Image coordinates: column, row pairs")
    label: str | None = Field(default=None, min_length=1, max_length=200)
    text: str | None = Field(default=None, min_length=1, max_length=4000,
                             validate_default=True, description="Required for type text")
    value: float | None = Field(default=None, allow_inf_nan=False, validate_default=True,
                                description="Required for type measurement")
    unit: str | None = Field(default=None, min_length=1, max_length=32,
                             pattern=r"^[!-~]+$", validate_default=True,
                             description="UCUM unit; required for type measurement")

    @field_validator("coordinates")
    @classmethod
    def _pairs(cls, value: list[float], info: ValidationInfo) -> list[float]:
        if len(value) % 2:
            raise ValueError("coordinates are (column, row) pairs: an even count")
        kind = info.data.get("type")
        if kind in MIN_POINTS and len(value) < 2 * MIN_POINTS[kind]:
            raise ValueError(f"a {kind} needs at least {MIN_POINTS[kind]} points")
        return value

    @field_validator("text")
    @classmethod
    def _text(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("type") == "text" and value is None:
            raise ValueError("a text annotation needs its text")
        return value

    @field_validator("value", "unit")
    @classmethod
    def _measured(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("type") == "measurement" and value is None:
            raise ValueError(f"a measurement needs its {info.field_name}")
        return value

    def to_domain(self) -> AnnotationDraft:
        return AnnotationDraft(annotation_id=self.id, kind=AnnotationKind(self.type),
                               series_uid=self.series_uid, instance_uid=self.instance_uid,
                               frame=self.frame, coordinates=tuple(self.coordinates),
                               label=self.label, text=self.text, value=self.value,
                               unit=self.unit)


class AnnotateBody(Strict):
    study_uid: Uid
    annotations: list[AnnotationBody] = Field(min_length=1, max_length=200)


class AnnotationView(BaseModel):
    id: str
    version: int
    study_uid: str
    type: str
    series_uid: str
    instance_uid: str
    frame: int
    coordinates: list[float]
    label: str | None
    text: str | None
    value: float | None
    unit: str | None
    author: str = Field(description="Who made this version (the caller's subject)")
    created_at: datetime
    sr_state: str = Field(description="The DICOM SR copy in the PACS: pending (queued), "
                                      "stored, or disabled")
    fhir_observation: str = Field(description="The Observation in the FHIR store that holds "
                                  "this annotation's latest version (written by the outbox)")

    @classmethod
    def of(cls, v: AnnotationVersion) -> AnnotationView:
        return cls(id=v.annotation_id, version=v.version, study_uid=v.study_uid,
                   type=v.kind.value, series_uid=v.series_uid, instance_uid=v.instance_uid,
                   frame=v.frame, coordinates=list(v.coordinates), label=v.label, text=v.text,
                   value=v.value, unit=v.unit, author=v.author, created_at=v.created_at,
                   sr_state=v.sr_state.value,
                   fhir_observation=f"Observation/{observation_id(v.annotation_id)}")


class AnnotateAnswer(BaseModel):
    study_uid: str
    annotations: list[AnnotationView]


class AnnotationList(BaseModel):
    items: list[AnnotationView]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")

    @classmethod
    def of(cls, page: AnnotationPage) -> AnnotationList:
        return cls(items=[AnnotationView.of(v) for v in page.items], next_cursor=page.next_cursor)
