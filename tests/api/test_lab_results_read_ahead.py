"""patients reads its page's labResults ahead (schema/prefetch.py): the same answer, the same
audit rows and the same errors as labResults loaded per patient (through a fragment, which
the read-ahead does not look into)."""

from __future__ import annotations

from typing import Any

from tests.api.test_fhir_rest import _create, patient
from tests.api.test_search_audit import _rows
from tests.db.test_search_plan import _lab
from tests.support import Harness

DIRECT = """{ patients(first: 10) { nodes { id family
  labResults(first: 3) { id code value unit effective }
  newest: labResults(first: 1) { id } } } }"""
# The same selection reached through fragments: loaded per patient, as before read-ahead.
FRAGMENT = """{ patients(first: 10) { nodes { id family ...Labs } } }
fragment Labs on Patient { labResults(first: 3) { id code value unit effective }
  newest: labResults(first: 1) { id } }"""


async def _seed(h: Harness) -> list[str]:
    ids = []
    for n, results in enumerate((4, 0, 2)):
        pid = (await _create(h, patient(f"RA-{n}", f"Reader{n}")))["id"]
        for day in range(1, results + 1):
            await _create(h, _lab(pid, day))
        ids.append(pid)
    return ids


async def _post(h: Harness, query: str, roles: tuple[str, ...], **variables: Any
                ) -> tuple[dict[str, Any], str]:
    response = await h.client.post("/graphql", headers=h.auth(*roles),
                                   json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json(), response.headers["x-request-id"]


async def test_read_ahead_answers_and_audits_as_per_patient_loading(gateway: Harness) -> None:
    h = gateway
    ids = await _seed(h)
    direct, direct_request = await _post(h, DIRECT, ("clinician",))
    per_patient, fragment_request = await _post(h, FRAGMENT, ("clinician",))
    assert "errors" not in direct and direct == per_patient
    nodes = {n["id"]: n for n in direct["data"]["patients"]["nodes"]}
    assert {pid: len(nodes[pid]["labResults"]) for pid in ids} == {
        ids[0]: 3, ids[1]: 0, ids[2]: 2}
    assert nodes[ids[0]]["newest"] == [{"id": nodes[ids[0]]["labResults"][0]["id"]}]
    assert sorted(await _rows(h, direct_request), key=str) == sorted(
        await _rows(h, fragment_request), key=str)
    assert ("Observation", None, ids[0]) in await _rows(h, direct_request)


async def test_read_ahead_takes_first_from_variables_and_defaults(gateway: Harness) -> None:
    h = gateway
    ids = await _seed(h)
    body, _ = await _post(h, "query($k: Int!) { patients(first: 10) { nodes { id a: labResults(first: $k)"
                          " { id } b: labResults(first: 20) { id } } } }", ("clinician",), k=1)
    nodes = {n["id"]: n for n in body["data"]["patients"]["nodes"]}
    assert (len(nodes[ids[0]]["a"]), len(nodes[ids[0]]["b"])) == (1, 4)


async def test_a_caller_without_lab_access_is_refused_as_with_per_patient_loading(
        gateway: Harness) -> None:
    """Billing reads patients but not their Observations: the read-ahead's refusal is not
    raised by patients itself; it reaches labResults at a patient's path, as when loaded per
    patient (labResults is non-null, so the refusal nulls the page in both)."""
    h = gateway
    await _seed(h)
    direct, _ = await _post(h, DIRECT, ("billing",))
    per_patient, _ = await _post(h, FRAGMENT, ("billing",))

    def unlocated(body: dict[str, Any]) -> dict[str, Any]:  # the two texts differ in layout
        return {**body, "errors": [{k: v for k, v in e.items() if k != "locations"}
                                   for e in body["errors"]]}

    assert unlocated(direct) == unlocated(per_patient)
    assert [e["path"][:3] for e in direct["errors"]] == [["patients", "nodes", 0]]
    assert [e["path"][3] for e in direct["errors"]] in (["labResults"], ["newest"])
    assert "roles" in direct["errors"][0]["message"]
    patients_only, _ = await _post(h, "{ patients(first: 10) { nodes { id family } } }",
                                   ("billing",))
    assert len(patients_only["data"]["patients"]["nodes"]) == 3
