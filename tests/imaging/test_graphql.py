"""GraphQL dicomAccess and imagingAnnotations: the same use cases and answers as REST."""

from __future__ import annotations

from typing import Any

from tests.imaging.conftest import Imaging

ACCESS = """mutation($study: String!, $patient: String!) {
  dicomAccess(studyUid: $study, patientId: $patient) {
    __typename
    ... on DicomAccess { studyUid patientId dicomwebRoot viewerUrl imagingStudy }
    ... on UserError { code message }
  }
}"""
ANNOTATIONS = """query($study: String!) {
  imagingAnnotations(studyUid: $study, allVersions: true) {
    nodes { id version patientId type author srState coordinates }
    nextCursor
  }
}"""


async def test_dicom_access_answers_like_rest(imaging: Imaging) -> None:
    variables = {"study": imaging.study.study_uid, "patient": imaging.patient_id}
    body = await imaging.h.gql(ACCESS, variables, roles=("clinician",))
    found = body["data"]["dicomAccess"]
    assert found["__typename"] == "DicomAccess", body
    rest = (await imaging.access()).json()["data"]
    assert found["imagingStudy"] == rest["imaging_study"]
    assert found["dicomwebRoot"].split("/viewer/")[0] == rest["dicomweb_root"].split("/viewer/")[0]


async def test_dicom_access_refusals_are_typed(imaging: Imaging) -> None:
    other = {"study": "1.2.3.4.5", "patient": imaging.patient_id}
    missing = (await imaging.h.gql(ACCESS, other, roles=("clinician",)))["data"]["dicomAccess"]
    assert (missing["__typename"], missing["code"]) == ("NotFoundError", "not_found")
    mine = {"study": imaging.study.study_uid, "patient": imaging.patient_id}
    refused = (await imaging.h.gql(ACCESS, mine, roles=("billing",)))["data"]["dicomAccess"]
    assert refused["__typename"] == "ForbiddenError"
    rows = (await imaging.h.client.get("/api/admin/audit-events?limit=200",
                                       headers=imaging.h.auth("admin"))).json()["data"]["items"]
    assert ("denied", imaging.patient_id, "graphql") in [
        (r["outcome"], r["patient_id"], r["surface"]) for r in rows
        if r["resource_type"] == "ImagingStudy"]


async def test_imaging_annotations_lists_what_rest_stored(imaging: Imaging) -> None:
    ct = imaging.study.series("CT")[0]
    assert (await imaging.access()).status_code == 200
    made = await imaging.h.client.post("/api/clinical/dicom/annotate", json={
        "study_uid": imaging.study.study_uid, "annotations": [
            {"id": "t-1", "type": "text", "series_uid": ct.series_uid,
             "instance_uid": ct.instance_uid, "coordinates": [4, 4], "text": "first"}]},
        headers=imaging.h.auth("clinician"))
    assert made.status_code == 201, made.text
    body: dict[str, Any] = await imaging.h.gql(ANNOTATIONS, {"study": imaging.study.study_uid},
                                               roles=("clinician",))
    page = body["data"]["imagingAnnotations"]
    assert [(n["id"], n["version"], n["patientId"], n["type"], n["author"]) for n in page["nodes"]] \
        == [("t-1", 1, imaging.patient_id, "text", "tester")]
    unknown = await imaging.h.gql(ANNOTATIONS, {"study": "9.9.9"}, roles=("clinician",))
    assert unknown["data"]["imagingAnnotations"] is None
