"""CARI_PACS_* settings: parsed, defaulted, and every problem reported at once."""

from __future__ import annotations

from adapters.settings.pacs import DEFAULT_VIEWER_TEMPLATE, load_pacs_settings
from resolvers.imaging.model import PatientIdSystem


def test_settings_are_read() -> None:
    problems: list[str] = []
    found = load_pacs_settings({
        "CARI_PACS_BASE_URL": "http://orthanc:8042/dicom-web/",
        "CARI_PACS_WADO_URI_URL": "http://orthanc:8042/wado",
        "CARI_PACS_VIEWER_TOKEN_SECONDS": "300", "CARI_PACS_TIMEOUT_SECONDS": "2.5",
        "CARI_PACS_PATIENT_ID_SYSTEMS": "urn:mrn, urn:nid|HOSP-A",
        "CARI_PACS_VIEWER_URL_TEMPLATE": "https://ohif/viewer?StudyInstanceUIDs={study_uid}",
        "CARI_PACS_WRITE_SR": "false"}, problems)
    assert problems == []
    assert found.base_url == "http://orthanc:8042/dicom-web"
    assert (found.viewer_token_seconds, found.timeout_seconds, found.write_sr) == (300, 2.5, False)
    assert found.patient_id_systems == (PatientIdSystem("urn:mrn"),
                                        PatientIdSystem("urn:nid", "HOSP-A"))


def test_defaults() -> None:
    found = load_pacs_settings({}, [])
    assert (found.base_url, found.viewer_token_seconds, found.write_sr) == ("", 900, True)
    assert found.viewer_url_template == DEFAULT_VIEWER_TEMPLATE


def test_every_problem_is_reported() -> None:
    problems: list[str] = []
    load_pacs_settings({"CARI_PACS_BASE_URL": "orthanc:8042", "CARI_PACS_TIMEOUT_SECONDS": "0",
                        "CARI_PACS_VIEWER_TOKEN_SECONDS": "5",
                        "CARI_PACS_VIEWER_URL_TEMPLATE": "https://v/{patient}",
                        "CARI_PACS_VIEWER_TOKEN_KEY": "secret", "CARI_PACS_WRITE_SR": "maybe"},
                       problems)
    assert [p.split("=")[0].split(":")[0] for p in problems] == [
        "CARI_PACS_TIMEOUT_SECONDS", "CARI_PACS_VIEWER_TOKEN_SECONDS",
        "CARI_PACS_VIEWER_URL_TEMPLATE", "CARI_PACS_VIEWER_TOKEN_KEY", "CARI_PACS_WRITE_SR",
        "CARI_PACS_BASE_URL"]
