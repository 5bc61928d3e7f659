"""DICOM imaging over GraphQL: the dicomAccess mutation and the imagingAnnotations query; the
same use cases as /api/clinical/dicom. Role clinician or admin."""

import datetime
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from resolvers.errors import DomainError
from resolvers.imaging.errors import PacsUnavailable
from resolvers.imaging.model import AccessView, AnnotationVersion
from resolvers.principal import Role
from schema.errors import ForbiddenError, NotFoundError, UserError, ValidationError, to_user_error
from schema.graphql_context import Info
from schema.permissions import has_role

IsClinician = has_role(Role.CLINICIAN)


@strawberry.type
class DicomAccess:
    viewer_url: str = strawberry.field(description="The viewer, opened on the study")
    dicomweb_root: str = strawberry.field(description="The proxied DICOMweb root of this study "
                                          "only; the signed token in it expires")
    expires_at: datetime.datetime
    study_uid: str
    patient_id: str
    imaging_study: JSON = strawberry.field(description="FHIR R4 ImagingStudy")

    @classmethod
    def of(cls, view: AccessView) -> "DicomAccess":
        return cls(viewer_url=view.viewer_url, dicomweb_root=view.dicomweb_root,
                   expires_at=view.expires_at, study_uid=view.study_uid,
                   patient_id=view.patient_id, imaging_study=cast(JSON, view.imaging_study))


@strawberry.type
class PacsUnavailableError(UserError):
    """The PACS is down, refused, timed out or is not configured (REST answers 502)."""


DicomAccessResult = Annotated[
    DicomAccess | ValidationError | NotFoundError | ForbiddenError | PacsUnavailableError,
    strawberry.union("DicomAccessResult")]


@strawberry.type
class ImagingAnnotation:
    id: str
    version: int
    study_uid: str
    patient_id: str
    type: str
    series_uid: str
    instance_uid: str
    frame: int
    coordinates: list[float]
    label: str | None
    text: str | None
    value: float | None
    unit: str | None
    author: str
    created_at: datetime.datetime
    sr_state: str

    @classmethod
    def of(cls, v: AnnotationVersion) -> "ImagingAnnotation":
        return cls(id=v.annotation_id, version=v.version, study_uid=v.study_uid,
                   patient_id=v.patient_id, type=v.kind.value, series_uid=v.series_uid,
                   instance_uid=v.instance_uid, frame=v.frame, coordinates=list(v.coordinates),
                   label=v.label, text=v.text, value=v.value, unit=v.unit, author=v.author,
                   created_at=v.created_at, sr_state=v.sr_state.value)


@strawberry.type
class ImagingAnnotationPage:
    nodes: list[ImagingAnnotation]
    next_cursor: str | None


@strawberry.type
class ImagingQuery:
    @strawberry.field(permission_classes=[IsClinician],
                      description="A study's annotations (latest versions, or every version), "
                      "paged; null when the study was not opened through dicomAccess")
    async def imaging_annotations(self, info: Info, study_uid: str, cursor: str | None = None,
                                  limit: int = 50, all_versions: bool = False
                                  ) -> ImagingAnnotationPage | None:
        try:
            page = await info.context.services.imaging.annotations.page(
                info.context.caller, study_uid, after=cursor, limit=max(1, min(limit, 200)),
                all_versions=all_versions)
        except DomainError as exc:
            if exc.code == "not_found":
                return None
            raise
        return ImagingAnnotationPage(nodes=[ImagingAnnotation.of(v) for v in page.items],
                                     next_cursor=page.next_cursor)


@strawberry.type
class ImagingMutation:
    @strawberry.mutation(description="Open a study for a patient: a signed viewer URL for that "
                         "study only and its FHIR ImagingStudy (as POST /api/clinical/dicom/access)")
    async def dicom_access(self, info: Info, study_uid: str,
                           patient_id: str) -> DicomAccessResult:
        try:
            view = await info.context.services.imaging.access.access(
                info.context.caller, study_uid, patient_id)
        except PacsUnavailable as exc:
            return PacsUnavailableError(message=exc.message, code=exc.code)
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return DicomAccess.of(view)
