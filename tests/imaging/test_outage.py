"""The PACS goes down between the access and the annotations: access answers 502, annotate
still commits the annotations (201, sr_state pending) and queues their SR; the outbox retries
until the PACS is back, then the SR is in the PACS. No annotation is lost."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.imaging.conftest import pacs_settings, patient_with_study
from tests.imaging.orthanc import started
from tests.support import Harness, running_app


async def _outbox(h: Harness) -> list[dict[str, Any]]:
    answer = await h.client.get("/api/admin/outbox", params={"destination": "pacs-sr"},
                                headers=h.auth("admin"))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["data"]["items"]
    return items


async def test_a_pacs_outage_delays_the_sr_and_loses_no_annotation(
        tmp_path: Path, database_url: str) -> None:
    orthanc = started(tmp_path / "pacs")
    try:
        settings = replace(pacs_settings(tmp_path / "var", database_url, orthanc),
                           outbox_backoff_base_seconds=0.1, outbox_backoff_max_seconds=0.3,
                           outbox_max_attempts=1000)
        async with running_app(settings) as h:
            patient_id, study = await patient_with_study(h, orthanc)
            opened = await h.client.post("/api/clinical/dicom/access", json={
                "study_uid": study.study_uid, "patient_id": patient_id},
                headers=h.auth("clinician"))
            assert opened.status_code == 200, opened.text
            orthanc.stop()  # the PACS goes down

            down = await h.client.post("/api/clinical/dicom/access", json={
                "study_uid": study.study_uid, "patient_id": patient_id},
                headers=h.auth("clinician"))
            assert down.status_code == 502
            assert "PACS" in down.json()["error"]["message"]

            mr = study.series("MR")[0]
            annotated = await h.client.post("/api/clinical/dicom/annotate", json={
                "study_uid": study.study_uid, "annotations": [
                    {"type": "text", "series_uid": mr.series_uid, "instance_uid": mr.instance_uid,
                     "coordinates": [3, 4], "text": "seen during the outage"}]},
                headers=h.auth("clinician"))
            assert annotated.status_code == 201, annotated.text
            [made] = annotated.json()["data"]["annotations"]
            assert made["sr_state"] == "pending"

            for _ in range(100):  # the worker tries, fails, and keeps the message
                [message] = await _outbox(h)
                if message["attempts"] >= 2:
                    break
                await asyncio.sleep(0.05)
            assert message["status"] == "pending" and message["attempts"] >= 2
            assert "PACS" in (message["last_error"] or "")

            orthanc.start()  # the PACS is back, same storage and port
            listed: list[dict[str, Any]] = []
            for _ in range(200):
                listed = (await h.client.get(
                    f"/api/clinical/dicom/studies/{study.study_uid}/annotations",
                    headers=h.auth("clinician"))).json()["data"]["items"]
                if listed and listed[0]["sr_state"] == "stored":
                    break
                await asyncio.sleep(0.05)
            assert [(a["id"], a["text"], a["sr_state"]) for a in listed] == [
                (made["id"], "seen during the outage", "stored")]
            assert [m["status"] for m in await _outbox(h)] == ["delivered"]
            assert "SR" in [s["00080060"]["Value"][0] for s in orthanc.series_of(study.study_uid)]
    finally:
        orthanc.stop()
