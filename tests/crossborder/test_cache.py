"""CARI_HIE_CACHE_SECONDS: off by default; when on, an answer is served again only for the
same purpose of use and within the configured seconds; every lookup is still audited."""

from __future__ import annotations

from pathlib import Path

from adapters.settings import load_settings
from tests.crossborder.conftest import CrossBorder, cross_border_app
from tests.medplum.harness import MedplumServer

URL = "/api/fhir/cross-border/Patient/12345678?country=KE"


async def test_off_by_default(xb: CrossBorder) -> None:
    assert load_settings({}).hie.cache_seconds == 0
    for _ in range(2):
        assert (await xb.h.client.get(URL, headers=xb.h.auth("clinician"))).status_code == 200
    assert xb.proxies["KE"].seen >= 2


async def test_cached_per_purpose_and_still_audited(
        tmp_path: Path, sqlite_url: str, standins: dict[str, MedplumServer]) -> None:
    async with cross_border_app(tmp_path, sqlite_url, standins, cache=60) as xb:
        first = await xb.h.client.get(URL, headers=xb.h.auth("clinician"))
        seen = xb.proxies["KE"].seen
        second = await xb.h.client.get(URL, headers=xb.h.auth("clinician"))
        assert xb.proxies["KE"].seen == seen, "the same purpose is answered from the cache"
        assert first.json()["entry"] == second.json()["entry"]
        other = await xb.h.client.get(URL + "&purpose=PUBHLTH", headers=xb.h.auth("clinician"))
        assert other.status_code == 200 and xb.proxies["KE"].seen > seen
        page = (await xb.h.client.get("/api/admin/audit-events?limit=200",
                                      headers=xb.h.auth("admin"))).json()["data"]["items"]
        audited = {r["request_id"] for r in page if r["resource_type"] == "CrossBorderPatient"}
        assert {first.headers["x-request-id"], second.headers["x-request-id"],
                other.headers["x-request-id"]} <= audited
