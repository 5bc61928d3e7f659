"""A field refused by its permission class never reaches the use case: the refusal is
audited where it happens, naming the patient when the query names one."""

from __future__ import annotations

from typing import Any

from tests.support import Harness


async def _denied(h: Harness, patient_id: str) -> list[dict[str, Any]]:
    r = await h.client.get(f"/api/admin/audit-events?patient_id={patient_id}&outcome=denied",
                           headers=h.auth("admin"))
    items: list[dict[str, Any]] = r.json()["data"]["items"]
    return items


async def test_refused_fields_are_audited_with_the_patient(gateway: Harness) -> None:
    h = gateway
    patient = await h.create_patient(family="Kamau")
    body = await h.gql('query($id: ID!) { patient(id: $id) { id } }', {"id": patient["id"]},
                       roles=("public_health",), sub="ph-analyst")
    # public_health may read patients: allowed; its payments are for billing only.
    assert body["data"]["patient"]["id"] == patient["id"]
    body = await h.gql('query($id: String!) { labAlerts(patientId: $id) { id } }',
                       {"id": patient["id"]}, roles=("billing",), sub="clerk-7")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    denied = await _denied(h, patient["id"])
    assert [(d["subject"], d["resource_type"], d["action"]) for d in denied] == [
        ("clerk-7", "graphql:Query.labAlerts", "R")]
