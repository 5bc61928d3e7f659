"""A gateway configured for DHIS2 (the example KE mapping, an instance on the stand-in, the
loopback on the allow-list) and a small known data set of malaria RDT results."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from adapters.settings import load_settings
from adapters.settings.dhis2 import Dhis2InstanceSettings
from tests.dhis2.fake_dhis2 import FakeDhis2
from tests.support import Harness, make_settings, running_app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "adapters/dhis2/mappings/example-ke.json"
TESTED, POSITIVE, POSITIVITY = "hfdmMSPBgLG", "vq2qO3eTrNi", "pRtVtyRt01a"
DEFAULT_COMBO = "HllvX50cXC0"
KISUMU, SIAYA, HOMABAY = "KsmCrh00001", "SiyCrh00001", "HmbCrh00001"
ORGS = {"org-kisumu-crh": KISUMU, "org-siaya-crh": SIAYA, "org-homabay-crh": HOMABAY}
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"


IDSR_ELEMENTS = {"IDSR_MALARIA": "IdsrMalar01", "IDSR_CHOLERA": "IdsrChole01",
                 "IDSR_MEASLES": "IdsrMeasl01", "IDSR_MENINGITIS": "IdsrMenin01",
                 "IDSR_TB": "IdsrTuber01", "IDSR_TYPHOID": "IdsrTypho01"}
AGE_SEX = {"0-4|female": "Fem0to4Cc01", "0-4|male": "Mal0to4Cc01",
           "5-14|female": "Fem5to14C01", "5-14|male": "Mal5to14C01",
           "15+|female": "Fem15plC001", "15+|male": "Mal15plC001", "unknown": "UnknAgeSx01"}

IMM_ELEMENTS = {
    "IMM_BCG": "ImmBcg00000", "IMM_OPV1": "ImmOpv10000", "IMM_OPV2": "ImmOpv20000",
    "IMM_OPV3": "ImmOpv30000", "IMM_IPV": "ImmIpv00000", "IMM_PENTA1": "ImmPenta100",
    "IMM_PENTA2": "ImmPenta200", "IMM_PENTA3": "ImmPenta300", "IMM_PCV1": "ImmPcv10000",
    "IMM_PCV2": "ImmPcv20000", "IMM_PCV3": "ImmPcv30000", "IMM_ROTA1": "ImmRota1000",
    "IMM_ROTA2": "ImmRota2000", "IMM_MR1": "ImmMr100000", "IMM_MR2": "ImmMr200000"}
COVERAGE_ELEMENTS = {"IMM_PENTA3_COVERAGE": "ImmPenta3Cv", "IMM_MR1_COVERAGE": "ImmMr1Cover"}
EARS_ELEMENTS = ("EarsSyndrom", "EarsCases01", "EarsExpect1", "EarsStatis1", "EarsMethod1")
POPULATION = "PopSurvInf1"  # surviving infants, a yearly value per org unit
MCH_ELEMENTS = {"MCH_ANC1": "MchAnc1Vis1", "MCH_ANC4": "MchAnc4Vis1",
                "MCH_FACILITY_DELIVERIES": "MchFacDeliv", "MCH_BIRTHS_WEIGHED": "MchBirthsWt",
                "MCH_LBW": "MchLowBirWt", "MCH_LBW_RATE": "MchLbwRate1",
                "MCH_U5_VISITS": "MchU5Visits"}


def stand_in(*, org_units: tuple[str, ...] = (KISUMU, SIAYA, HOMABAY)) -> FakeDhis2:
    return FakeDhis2(
        data_elements={TESTED: "INTEGER_ZERO_OR_POSITIVE", POSITIVE: "INTEGER_ZERO_OR_POSITIVE",
                       POSITIVITY: "NUMBER",
                       **{uid: "INTEGER_ZERO_OR_POSITIVE" for uid in IDSR_ELEMENTS.values()},
                       **{uid: "INTEGER_ZERO_OR_POSITIVE" for uid in IMM_ELEMENTS.values()},
                       **{uid: "NUMBER" for uid in COVERAGE_ELEMENTS.values()},
                       POPULATION: "INTEGER_ZERO_OR_POSITIVE",
                       **{uid: "NUMBER" if code.endswith("_RATE") else "INTEGER_ZERO_OR_POSITIVE"
                          for code, uid in MCH_ELEMENTS.items()},
                       **{uid: "TEXT" for uid in EARS_ELEMENTS}},
        programs={"EarsAlertPr": ["EarsAlertSt"]},  # the surveillance program (use case 3)
        category_option_combos={DEFAULT_COMBO, *AGE_SEX.values()},
        org_units={u: {"name": u, "level": 4} for u in org_units},
        data_sets={"MalRdtWk001": {"name": "Malaria RDT weekly", "periodType": "Weekly",
                                   "dataElements": [TESTED, POSITIVE, POSITIVITY]},
                   "MalRdtMo001": {"name": "Malaria RDT monthly", "periodType": "Monthly",
                                   "dataElements": [TESTED, POSITIVE]},
                   "IdsrWeekly1": {"name": "IDSR weekly", "periodType": "Weekly",
                                   "dataElements": list(IDSR_ELEMENTS.values())},
                   "ImmMonthly1": {"name": "Immunization monthly", "periodType": "Monthly",
                                   "dataElements": list(IMM_ELEMENTS.values())},
                   "ImmCoverMo1": {"name": "Immunization coverage", "periodType": "Monthly",
                                   "dataElements": [*IMM_ELEMENTS.values(),
                                                    *COVERAGE_ELEMENTS.values()]},
                   "MchMonthly1": {"name": "Maternal and child health monthly",
                                   "periodType": "Monthly",
                                   "dataElements": list(MCH_ELEMENTS.values())},
                   "PopTargetDS": {"name": "Population targets", "periodType": "Yearly",
                                   "dataElements": [POPULATION]}})


@contextlib.asynccontextmanager
async def dhis2_gateway(tmp_path: Path, database_url: str, fake: FakeDhis2, *,
                        api_token: str | None = None,
                        extra_instances: tuple[Dhis2InstanceSettings, ...] = (),
                        **overrides: Any) -> AsyncIterator[Harness]:
    env = {"CARI_DHIS2_MAPPING": str(EXAMPLE), "CARI_DHIS2_URL": fake.base_url,
           "CARI_DHIS2_API_TOKEN": api_token or fake.api_token}
    dhis2 = load_settings(env).dhis2
    settings = replace(make_settings(tmp_path / "var", database_url),
                       outbound_allowlist=("127.0.0.1",), outbox_backoff_base_seconds=0.05,
                       outbox_backoff_max_seconds=0.2,
                       dhis2=replace(dhis2, instances=dhis2.instances + extra_instances),
                       **overrides)
    async with running_app(settings) as harness:
        yield harness


async def _facility(h: Harness, org_id: str) -> None:
    r = await h.client.put(f"/api/fhir/Organization/{org_id}", json={
        "resourceType": "Organization", "id": org_id, "name": org_id,
        "type": [{"coding": [{"code": "facility"}]}]}, headers=h.auth("integrator"))
    assert r.status_code in (200, 201), r.text


async def rdt(h: Harness, patient_id: str, when: str, *, code: str = "70569-9",
              status: str = "final", **value: Any) -> None:
    body = {"resourceType": "Observation", "status": status,
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                      "observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectiveDateTime": when, **value}
    r = await h.client.post("/api/fhir/Observation", json=body, headers=h.auth("clinician"))
    assert r.status_code == 201, r.text


def coded(code: str, system: str = SNOMED) -> dict[str, Any]:
    return {"valueCodeableConcept": {"coding": [{"system": system, "code": code}]}}


async def seed(h: Harness) -> dict[str, str]:
    """Week 2026W10 is Monday 2 March to Sunday 8 March 2026.

    Kisumu, 2026W10: 5 tests done, 3 positive (coded SNOMED positive; text "Positive";
    interpretation POS), 2 negative (one a P. falciparum-only test, 70568-1). Not counted:
    an entered-in-error positive, a test in W11, a haemoglobin (LOINC 718-7).
    Siaya, 2026W10: 2 tests, both negative. Homa Bay: none.
    """
    for org in ORGS:
        await _facility(h, org)
    kisumu = (await h.create_patient(organization_id="org-kisumu-crh"))["id"]
    kisumu2 = (await h.create_patient(organization_id="org-kisumu-crh", family="Otieno"))["id"]
    siaya = (await h.create_patient(organization_id="org-siaya-crh", family="Ouma"))["id"]
    await rdt(h, kisumu, "2026-03-02T08:00:00+03:00", **coded("10828004"))
    await rdt(h, kisumu2, "2026-03-04", valueString="Positive")
    await rdt(h, kisumu2, "2026-03-05T10:00:00Z", valueString="see report",
              interpretation=[{"coding": [{"code": "POS"}]}])
    await rdt(h, kisumu, "2026-03-06T10:00:00Z", **coded("260385009"))
    await rdt(h, kisumu, "2026-03-08T20:00:00Z", code="70568-1", **coded("260385009"))
    await rdt(h, kisumu, "2026-03-03T10:00:00Z", status="entered-in-error", **coded("10828004"))
    await rdt(h, kisumu, "2026-03-09T10:00:00Z", **coded("10828004"))  # W11
    await rdt(h, kisumu, "2026-03-03T10:00:00Z", code="718-7",
              valueQuantity={"value": 12.1, "unit": "g/dL"})
    await rdt(h, siaya, "2026-03-03T10:00:00Z", **coded("260385009"))
    await rdt(h, siaya, "2026-03-07T10:00:00Z", valueString="negative")
    return {"kisumu": kisumu, "kisumu2": kisumu2, "siaya": siaya}


async def settled(h: Harness, push_id: str, *, timeout: float = 10.0,
                  states: tuple[str, ...] = ("success", "partial", "dead")) -> dict[str, Any]:
    """The push once it reached one of ``states``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        r = await h.client.get(f"/api/public-health/dhis2-push/{push_id}",
                               headers=h.auth("public_health"))
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["data"]
        if data["state"] in states:
            return data
        assert asyncio.get_running_loop().time() < deadline, data
        await asyncio.sleep(0.05)
