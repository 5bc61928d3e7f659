"""GET /api/public-health/dhis2/metadata-check: the mapping against the stand-in's metadata
over real HTTP; every entry pointing at nothing is named by its place in the mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dhis2.fake_dhis2 import serving
from tests.dhis2.support import HOMABAY, dhis2_gateway, stand_in

URL = "/api/public-health/dhis2/metadata-check"


@pytest.mark.db
async def test_entries_pointing_at_nothing(tmp_path: Path, database_url: str) -> None:
    fake = stand_in(org_units=("KsmCrh00001", "SiyCrh00001"))  # Homa Bay unknown
    fake.data_sets.pop("MalRdtMo001")
    fake.data_sets.pop("IdsrWeekly1")
    fake.category_option_combos.discard("UnknAgeSx01")
    async with serving(fake), dhis2_gateway(tmp_path, database_url, fake) as h:
        r = await h.client.get(URL, headers=h.auth("public_health"))
        assert r.status_code == 200, r.text
        report = r.json()["data"]
        assert report["dhis2_url"] == fake.base_url
        assert report["checked"]["organisationUnits"] == 2
        missing = {(m["kind"], m["uid"], m["where"]) for m in report["missing"]}
        assert missing == {
            ("organisationUnits", HOMABAY, "orgUnits.org-homabay-crh"),
            ("dataSets", "MalRdtMo001", "dataSets.malaria_rdt_monthly.uid"),
            ("dataSets", "IdsrWeekly1", "dataSets.idsr_weekly.uid"),
            *(("categoryOptionCombos", "UnknAgeSx01",
               f"indicators.{code}.categoryOptionCombos.unknown")
              for code in ("IDSR_MALARIA", "IDSR_CHOLERA", "IDSR_MEASLES", "IDSR_MENINGITIS",
                           "IDSR_TB", "IDSR_TYPHOID"))}
        r = await h.client.get(URL, params={"dhis2_url": "https://elsewhere.example"},
                               headers=h.auth("public_health"))
        assert r.status_code == 422
        fake.fail("/api/dataSets", 500)
        r = await h.client.get(URL, headers=h.auth("admin"))
        assert r.status_code == 502 and "500" in r.json()["error"]["message"]
