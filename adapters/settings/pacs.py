"""``CARI_PACS_*`` settings: the PACS's DICOMweb root, viewer tokens and URL, and which MPI
identifier systems are PACS PatientIDs.

Kept apart from :mod:`adapters.settings` (one concept per module); every problem is added to
the caller's list so an operator sees them all at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from resolvers.imaging.model import PatientIdSystem

# OHIF v3's DICOMweb proxy data source reads the data source configuration from ``url``.
DEFAULT_VIEWER_TEMPLATE = ("http://localhost:3000/viewer/dicomwebproxy?url={datasource_url}"
                           "&StudyInstanceUIDs={study_uid}")


@dataclass(frozen=True)
class PacsSettings:
    base_url: str = ""  # the DICOMweb root, e.g. http://orthanc:8042/dicom-web; "" = none
    wado_uri_url: str = ""  # the WADO-URI endpoint, e.g. http://orthanc:8042/wado
    username: str = ""
    password: str = ""
    timeout_seconds: float = 10.0
    viewer_token_seconds: int = 900
    viewer_token_key: str = ""  # k4.local PASERK shared by every gateway process; else a file
    viewer_url_template: str = DEFAULT_VIEWER_TEMPLATE
    patient_id_systems: tuple[PatientIdSystem, ...] = ()
    write_sr: bool = True


def _url(env: Mapping[str, str], name: str, problems: list[str]) -> str:
    raw = env.get(name, "").strip().rstrip("/")
    if raw and (urlsplit(raw).scheme not in ("http", "https") or not urlsplit(raw).netloc):
        problems.append(f"{name}={raw!r}: expected an http(s) URL")
    return raw


def _systems(raw: str) -> tuple[PatientIdSystem, ...]:
    """``system`` or ``system|issuer`` entries, comma-separated."""
    found = []
    for entry in (e.strip() for e in raw.split(",")):
        if entry:
            system, _, issuer = entry.partition("|")
            found.append(PatientIdSystem(system.strip(), issuer.strip() or None))
    return tuple(found)


def load_pacs_settings(env: Mapping[str, str], problems: list[str]) -> PacsSettings:
    timeout_raw = env.get("CARI_PACS_TIMEOUT_SECONDS", "10").strip() or "10"
    try:
        timeout = float(timeout_raw)
        if not 0.1 <= timeout <= 300:
            raise ValueError
    except ValueError:
        problems.append(f"CARI_PACS_TIMEOUT_SECONDS={timeout_raw!r}: expected seconds between "
                        "0.1 and 300")
        timeout = 10.0
    ttl_raw = env.get("CARI_PACS_VIEWER_TOKEN_SECONDS", "900").strip() or "900"
    if not ttl_raw.isdigit() or not 10 <= int(ttl_raw) <= 86_400:
        problems.append(f"CARI_PACS_VIEWER_TOKEN_SECONDS={ttl_raw!r}: expected whole seconds "
                        "between 10 and 86400")
        ttl_raw = "900"
    template = env.get("CARI_PACS_VIEWER_URL_TEMPLATE", "").strip() or DEFAULT_VIEWER_TEMPLATE
    try:
        template.format(study_uid="", dicomweb_root="", datasource_url="", token="")
    except (KeyError, IndexError, ValueError):
        problems.append("CARI_PACS_VIEWER_URL_TEMPLATE: only {study_uid}, {dicomweb_root}, "
                        "{datasource_url} and {token} may be used")
        template = DEFAULT_VIEWER_TEMPLATE
    key = env.get("CARI_PACS_VIEWER_TOKEN_KEY", "").strip()
    if key and not key.startswith("k4.local."):
        problems.append("CARI_PACS_VIEWER_TOKEN_KEY: expected a k4.local PASERK")
    write_sr = env.get("CARI_PACS_WRITE_SR", "true").strip().lower()
    if write_sr not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        problems.append(f"CARI_PACS_WRITE_SR={write_sr!r}: expected true or false")
    return PacsSettings(
        base_url=_url(env, "CARI_PACS_BASE_URL", problems),
        wado_uri_url=_url(env, "CARI_PACS_WADO_URI_URL", problems),
        username=env.get("CARI_PACS_USERNAME", "").strip(),
        password=env.get("CARI_PACS_PASSWORD", ""),
        timeout_seconds=timeout, viewer_token_seconds=int(ttl_raw), viewer_token_key=key,
        viewer_url_template=template,
        patient_id_systems=_systems(env.get("CARI_PACS_PATIENT_ID_SYSTEMS", "")),
        write_sr=write_sr in ("1", "true", "yes", "on"))
