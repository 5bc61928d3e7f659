"""patient(id:) with managingOrganization: the organization comes with the patient.

The patient lookup joins the managing organization when the field's selection names it
(schema/queries.py, adapters/db/patients.py), so no second lookup runs; the answer is the
one the organization loader gives, null when the patient has no organization.
"""

from __future__ import annotations

from tests.support import Harness, count_queries

Q = "query($id: ID!) { patient(id: $id) { id managingOrganization { id name } } }"


async def test_organization_read_in_the_patient_statement(quiet_gateway: Harness) -> None:
    h = quiet_gateway
    org = (await h.client.post("/api/organizations", json={"name": "Joined Clinic"},
                               headers=h.auth("admin"))).json()["data"]
    with_org = await h.create_patient(organization_id=org["id"])
    without = await h.create_patient()
    with count_queries(*h.engines) as counter:
        body = await h.gql(Q, {"id": with_org["id"]}, roles=("clinician",))
    assert body["data"]["patient"]["managingOrganization"] == {"id": org["id"],
                                                                "name": "Joined Clinic"}
    selects = [s for s in counter.statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1 and "organizations" in selects[0]
    body = await h.gql(Q, {"id": without["id"]}, roles=("clinician",))
    assert body["data"]["patient"] == {"id": without["id"], "managingOrganization": None}


async def test_organization_through_a_fragment_is_loaded_on_its_own(
        quiet_gateway: Harness) -> None:
    h = quiet_gateway
    org = (await h.client.post("/api/organizations", json={"name": "Fragment Clinic"},
                               headers=h.auth("admin"))).json()["data"]
    patient = await h.create_patient(organization_id=org["id"])
    q = ("query($id: ID!) { patient(id: $id) { ...P } } "
         "fragment P on Patient { id managingOrganization { name } }")
    body = await h.gql(q, {"id": patient["id"]}, roles=("clinician",))
    assert body["data"]["patient"]["managingOrganization"] == {"name": "Fragment Clinic"}
