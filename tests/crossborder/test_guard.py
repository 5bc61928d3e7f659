"""hie_endpoint: only where the outbound allow-list admits it (no SSRF)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crossborder.conftest import CrossBorder, cross_border_app
from tests.medplum.harness import MedplumServer

URL = "/api/fhir/cross-border/Patient/12345678?hie_endpoint="
FORBIDDEN = ["http://127.0.0.1:9/fhir", "http://169.254.169.254/latest/meta-data",
             "http://[::1]:8080/fhir", "http://metadata.google.internal/computeMetadata/v1",
             "http://10.0.0.5/fhir", "file:///etc/passwd", "https://hie.health.go.ke/fhir/r4"]


@pytest.mark.parametrize("endpoint", FORBIDDEN)
async def test_endpoint_off_the_allow_list_is_refused(
        tmp_path: Path, sqlite_url: str, standins: dict[str, MedplumServer],
        endpoint: str) -> None:
    # Nothing on the allow-list: every caller-supplied endpoint is refused, even a public one.
    async with cross_border_app(tmp_path, sqlite_url, standins,
                                outbound_allowlist=()) as xb:
        response = await xb.h.client.get(URL + endpoint, headers=xb.h.auth("clinician"))
        assert response.status_code == 400, response.text
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "security"
        assert all(p.seen == 0 for p in xb.proxies.values())


async def test_loopback_is_refused_unless_allow_listed(
        tmp_path: Path, sqlite_url: str, standins: dict[str, MedplumServer]) -> None:
    # Only another port of loopback is listed: the stand-in's port is not.
    async with cross_border_app(tmp_path, sqlite_url, standins,
                                outbound_allowlist=("127.0.0.1:1",)) as xb:
        endpoint = f"{xb.proxies['KE'].base_url}/__admin/fhir/R4"
        response = await xb.h.client.get(URL + endpoint, headers=xb.h.auth("clinician"))
        assert response.status_code == 400
        assert "allow-list" in response.json()["issue"][0]["diagnostics"]


async def test_allow_listed_sandbox_answers_and_says_which_endpoint(xb: CrossBorder) -> None:
    # The stand-in's own no-token FHIR API stands for a sandbox without authentication.
    endpoint = f"{xb.standins['KE'].base_url}/__admin/fhir/R4"
    response = await xb.h.client.get(
        f"{URL}{endpoint}&country=KE", headers=xb.h.auth("clinician"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"]["source"] == endpoint and body["meta"]["country"] == "KE"
    assert body["total"] == 1
    # Without a country the national id is searched by value, in any system.
    bare = (await xb.h.client.get(URL + endpoint, headers=xb.h.auth("clinician"))).json()
    assert bare["meta"] == {"source": endpoint, "national_id": "12345678"}
    assert bare["total"] == 1


async def test_an_allow_listed_address_is_asked(
        tmp_path: Path, sqlite_url: str, standins: dict[str, MedplumServer]) -> None:
    async with cross_border_app(tmp_path, sqlite_url, standins,
                                outbound_allowlist=("127.0.0.1", "::1")) as xb:
        response = await xb.h.client.get(URL + "http://[::1]:1/fhir",
                                         headers=xb.h.auth("clinician"))
        # Admitted, then nothing listens there: unreachable (502), not refused (400).
        assert response.status_code == 502, response.text
