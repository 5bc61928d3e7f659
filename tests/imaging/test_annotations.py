"""POST /api/clinical/dicom/annotate and the annotation list, on SQLite and PostgreSQL:
the documented example, versions, pagination, malformed input (422 naming the field), and
the DICOM SR written to the real Orthanc through the outbox."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pydicom

from adapters.fhir.validator import FhirValidator
from tests.imaging.conftest import Imaging, imaging_gateway, patient_with_study
from tests.imaging.dicom_files import DOCUMENTED_STUDY
from tests.imaging.orthanc import Orthanc
from tests.support import ROOT

# "DICOM Imaging" in ../shared/reference/product-docs.md, as written there; its "[...]" is
# where the test puts the annotations.
DOCUMENTED_ANNOTATE = """{
  "study_uid": "1.2.840.113619.2.55.3.604688119",
  "annotations": [...]
}"""


def test_the_example_is_the_one_in_the_product_documentation() -> None:
    docs = (ROOT.parent / "shared" / "reference" / "product-docs.md").read_text(encoding="utf-8")
    assert "POST /api/clinical/dicom/annotate\nAuthorization: Bearer v4.public.eyJ...\n" \
           f"Content-Type: application/json\n\n{DOCUMENTED_ANNOTATE}" in docs


def _annotations(series: str, instance: str) -> list[dict[str, Any]]:
    return [
        {"id": "len-1", "type": "measurement", "series_uid": series, "instance_uid": instance,
         "frame": 1, "coordinates": [2, 3, 10, 12], "label": "Nodule diameter", "value": 7.5,
         "unit": "mm"},
        {"type": "region", "series_uid": series, "instance_uid": instance,
         "coordinates": [1, 1, 8, 1, 8, 8, 1, 8], "label": "Consolidation"},
        {"type": "text", "series_uid": series, "instance_uid": instance,
         "coordinates": [5, 5], "text": "Compare with the prior study"},
    ]


async def _annotate(imaging: Imaging, body: dict[str, Any] | str, role: str = "clinician") -> Any:
    content = body if isinstance(body, str) else json.dumps(body)
    return await imaging.h.client.post(
        "/api/clinical/dicom/annotate", content=content.encode(),
        headers={**imaging.h.auth(role), "Content-Type": "application/json"})


async def _list(imaging: Imaging, study_uid: str, **params: Any) -> dict[str, Any]:
    answer = await imaging.h.client.get(f"/api/clinical/dicom/studies/{study_uid}/annotations",
                                        params=params, headers=imaging.h.auth("clinician"))
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


async def test_documented_annotate_stores_versions_and_lists_them(
        imaging_any_db: Imaging) -> None:
    imaging = imaging_any_db
    patient_id, study = await patient_with_study(imaging.h, imaging.orthanc, DOCUMENTED_STUDY)
    assert (await imaging.access(DOCUMENTED_STUDY, patient_id)).status_code == 200
    ct = study.series("CT")[0]
    body = DOCUMENTED_ANNOTATE.replace(
        "[...]", json.dumps(_annotations(ct.series_uid, ct.instance_uid)))
    answer = await _annotate(imaging, body)
    assert answer.status_code == 201, answer.text
    made = answer.json()["data"]["annotations"]
    assert [(a["type"], a["version"], a["author"], a["sr_state"]) for a in made] == [
        ("measurement", 1, "tester", "pending"), ("region", 1, "tester", "pending"),
        ("text", 1, "tester", "pending")]
    assert made[0]["id"] == "len-1" and made[0]["value"] == 7.5 and made[0]["unit"] == "mm"
    listed = await _list(imaging, DOCUMENTED_STUDY)
    assert sorted(a["id"] for a in listed["items"]) == sorted(a["id"] for a in made)

    # The same id again: a new version; the list shows the latest, versions=all both.
    again = await _annotate(imaging, {"study_uid": DOCUMENTED_STUDY, "annotations": [
        {**_annotations(ct.series_uid, ct.instance_uid)[0], "value": 8.0}]})
    assert again.status_code == 201, again.text
    assert again.json()["data"]["annotations"][0]["version"] == 2
    latest = {a["id"]: a for a in (await _list(imaging, DOCUMENTED_STUDY))["items"]}
    assert (latest["len-1"]["version"], latest["len-1"]["value"]) == (2, 8.0)
    every = (await _list(imaging, DOCUMENTED_STUDY, versions="all"))["items"]
    assert [(a["version"], a["value"]) for a in every if a["id"] == "len-1"] == [
        (1, 7.5), (2, 8.0)]

    # Pages of two, in a stable order, nothing lost or repeated.
    pages, cursor = [], None
    while True:
        page = await _list(imaging, DOCUMENTED_STUDY, versions="all", limit=2,
                           **({"cursor": cursor} if cursor else {}))
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2]
    assert [(a["id"], a["version"]) for p in pages for a in p] == [
        (a["id"], a["version"]) for a in every]


async def test_the_sr_of_the_annotations_reaches_the_pacs(imaging_any_db: Imaging) -> None:
    imaging = imaging_any_db
    ct = imaging.study.series("CT")[1]
    assert (await imaging.access()).status_code == 200
    answer = await _annotate(imaging, {"study_uid": imaging.study.study_uid,
                                       "annotations": _annotations(ct.series_uid,
                                                                   ct.instance_uid)})
    assert answer.status_code == 201, answer.text
    for _ in range(200):
        items = (await _list(imaging, imaging.study.study_uid))["items"]
        if all(a["sr_state"] == "stored" for a in items):
            break
        await asyncio.sleep(0.05)
    assert [a["sr_state"] for a in items] == ["stored"] * 3
    series = imaging.orthanc.series_of(imaging.study.study_uid)
    [sr_series] = [s for s in series if s["00080060"]["Value"] == ["SR"]]
    sr_uid = sr_series["0020000E"]["Value"][0]
    async with httpx.AsyncClient() as client:
        instances = (await client.get(f"{imaging.orthanc.dicomweb}/studies/"
                                      f"{imaging.study.study_uid}/series/{sr_uid}/instances")).json()
        sop = instances[0]["00080018"]["Value"][0]
        # Orthanc reads contentType raw: the "/" must not be percent-encoded.
        raw = await client.get(
            f"{imaging.orthanc.url}/wado?requestType=WADO&studyUID={imaging.study.study_uid}"
            f"&seriesUID={sr_uid}&objectUID={sop}&contentType=application/dicom")
    sr = pydicom.dcmread(io.BytesIO(raw.content))
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert sr.PatientID == imaging.study.patient_id
    referenced = {r.ReferencedSOPInstanceUID for e in sr.CurrentRequestedProcedureEvidenceSequence
                  for s in e.ReferencedSeriesSequence for r in s.ReferencedSOPSequence}
    assert referenced == {ct.instance_uid}


MALFORMED: list[tuple[dict[str, Any], str]] = [
    ({"coordinates": [1, 2, 3]}, "annotations.0.coordinates"),
    ({"unit": None}, "annotations.0.unit"),
    ({"value": None}, "annotations.0.value"),
    ({"series_uid": "1.2.abc"}, "annotations.0.series_uid"),
    ({"type": "arrow"}, "annotations.0.type"),
    ({"frame": 0}, "annotations.0.frame"),
    ({"id": "has space"}, "annotations.0.id"),
    ({"coordinates": [1, 2]}, "annotations.0.coordinates"),  # a measurement needs two points
    ({"colour": "red"}, "annotations.0.colour"),
]


async def test_malformed_annotations_answer_422_naming_the_field_and_store_nothing(
        imaging_any_db: Imaging) -> None:
    imaging = imaging_any_db
    ct = imaging.study.series("CT")[0]
    assert (await imaging.access()).status_code == 200
    good = _annotations(ct.series_uid, ct.instance_uid)[0]
    for change, field in MALFORMED:
        answer = await _annotate(imaging, {"study_uid": imaging.study.study_uid,
                                           "annotations": [{**good, **change}]})
        assert answer.status_code == 422, (change, answer.text)
        fields = [d["field"] for d in answer.json()["error"]["details"]]
        assert field in fields, (change, fields)
    empty = await _annotate(imaging, {"study_uid": imaging.study.study_uid, "annotations": []})
    assert [d["field"] for d in empty.json()["error"]["details"]] == ["annotations"]
    text = await _annotate(imaging, {"study_uid": imaging.study.study_uid, "annotations": [
        {"type": "text", "series_uid": ct.series_uid, "instance_uid": ct.instance_uid,
         "coordinates": [1, 1]}]})
    assert [d["field"] for d in text.json()["error"]["details"]] == ["annotations.0.text"]
    twice = await _annotate(imaging, {"study_uid": imaging.study.study_uid,
                                      "annotations": [good, good]})
    assert twice.status_code == 422
    assert (await _list(imaging, imaging.study.study_uid))["items"] == []


async def test_annotating_needs_an_accessed_study_and_the_clinician_role(
        imaging: Imaging) -> None:
    ct = imaging.study.series("CT")[0]
    body = {"study_uid": imaging.study.study_uid,
            "annotations": _annotations(ct.series_uid, ct.instance_uid)}
    assert (await _annotate(imaging, body)).status_code == 404  # not accessed yet
    assert (await imaging.access()).status_code == 200
    assert (await _annotate(imaging, body, role="billing")).status_code == 403
    assert (await _annotate(imaging, body)).status_code == 201
    listed = await imaging.h.client.get(
        f"/api/clinical/dicom/studies/{imaging.study.study_uid}/annotations",
        headers=imaging.h.auth("billing"))
    assert listed.status_code == 403


async def test_an_annotation_id_of_another_study_is_a_conflict(imaging: Imaging) -> None:
    ct = imaging.study.series("CT")[0]
    assert (await imaging.access()).status_code == 200
    first = _annotations(ct.series_uid, ct.instance_uid)[0]
    assert (await _annotate(imaging, {"study_uid": imaging.study.study_uid,
                                      "annotations": [first]})).status_code == 201
    patient_id, other = await patient_with_study(imaging.h, imaging.orthanc)
    assert (await imaging.access(other.study_uid, patient_id)).status_code == 200
    o = other.series("CT")[0]
    clash = await _annotate(imaging, {"study_uid": other.study_uid, "annotations": [
        {**first, "series_uid": o.series_uid, "instance_uid": o.instance_uid}]})
    assert clash.status_code == 409
    assert clash.json()["error"]["details"][0]["field"] == "annotations.0.id"


async def test_annotations_are_observations_in_the_fhir_store(imaging_any_db: Imaging) -> None:
    imaging = imaging_any_db
    ct = imaging.study.series("CT")[0]
    assert (await imaging.access()).status_code == 200
    first = _annotations(ct.series_uid, ct.instance_uid)[0]
    made = await _annotate(imaging, {"study_uid": imaging.study.study_uid,
                                     "annotations": [first]})
    assert made.status_code == 201, made.text
    reference = made.json()["data"]["annotations"][0]["fhir_observation"]
    assert (await _annotate(imaging, {"study_uid": imaging.study.study_uid, "annotations": [
        {**first, "value": 9.25}]})).status_code == 201
    found: dict[str, Any] = {}
    for _ in range(200):  # the outbox worker writes the latest version
        answer = await imaging.h.client.get(f"/api/fhir/{reference}",
                                            headers=imaging.h.auth("clinician"))
        found = answer.json() if answer.status_code == 200 else {}
        if found.get("valueQuantity", {}).get("value") == 9.25:
            break
        await asyncio.sleep(0.05)
    assert found["valueQuantity"] == {"value": 9.25, "unit": "mm",
                                      "system": "http://unitsofmeasure.org", "code": "mm"}
    assert found["status"] == "amended"
    assert found["subject"] == {"reference": f"Patient/{imaging.patient_id}"}
    assert found["derivedFrom"] == [{"type": "ImagingStudy", "identifier": {
        "system": "urn:dicom:uid", "value": f"urn:oid:{imaging.study.study_uid}"}}]
    assert found["category"][0]["coding"][0]["code"] == "imaging"
    assert {"system": "urn:cari:imaging-annotation-version", "value": "2"} in found["identifier"]
    assert FhirValidator().validate(found) == []
    # Found by the patient's FHIR search like any of their Observations.
    bundle = (await imaging.h.client.get(
        f"/api/fhir/Observation?subject=Patient/{imaging.patient_id}",
        headers=imaging.h.auth("clinician"))).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [found["id"]]


async def test_with_sr_writing_off_only_the_fhir_copy_is_queued(
        tmp_path: Path, sqlite_url: str, orthanc: Orthanc) -> None:
    async with imaging_gateway(tmp_path, sqlite_url, orthanc, write_sr=False) as imaging:
        ct = imaging.study.series("CT")[0]
        assert (await imaging.access()).status_code == 200
        made = await _annotate(imaging, {"study_uid": imaging.study.study_uid,
                                         "annotations": _annotations(ct.series_uid,
                                                                     ct.instance_uid)[2:]})
        assert [a["sr_state"] for a in made.json()["data"]["annotations"]] == ["disabled"]
        outbox = (await imaging.h.client.get("/api/admin/outbox",
                                             headers=imaging.h.auth("admin"))).json()
        destinations = {m["destination"] for m in outbox["data"]["items"]}
        assert "imaging-fhir" in destinations and "pacs-sr" not in destinations
