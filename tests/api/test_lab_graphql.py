"""Lab results over GraphQL: ingestHl7 with typed errors, Patient.labResults without N+1."""

from __future__ import annotations

from tests.api.test_lab_ingest import NATID, WORKED_EXAMPLE
from tests.support import Harness, count_queries

MUTATION = """mutation($m: String!) { ingestHl7(message: $m) { __typename
  ... on IngestResult { labResultId patientMatched patientId observationsCreated }
  ... on UnsupportedMessageError { messageType message }
  ... on MalformedMessageError { message location } } }"""


async def test_ingest_mutation_and_typed_errors(gateway: Harness) -> None:
    patient = await gateway.create_patient(identifiers=[{"system": NATID, "value": "NID9988"}])
    ok = await gateway.gql(MUTATION, {"m": WORKED_EXAMPLE}, roles=("lab",))
    result = ok["data"]["ingestHl7"]
    assert result["__typename"] == "IngestResult" and result["patientId"] == patient["id"]
    assert result["observationsCreated"] == 2
    adt = await gateway.gql(MUTATION, {"m": WORKED_EXAMPLE.replace("ORU^R01^ORU_R01", "ADT^A08")},
                            roles=("lab",))
    assert adt["data"]["ingestHl7"] == {"__typename": "UnsupportedMessageError",
                                        "messageType": "ADT^A08",
                                        "message": "only ORU^R01 is accepted, not ADT^A08"}
    broken = await gateway.gql(MUTATION, {"m": "garbage"}, roles=("lab",))
    assert broken["data"]["ingestHl7"]["__typename"] == "MalformedMessageError"
    denied = await gateway.gql(MUTATION, {"m": WORKED_EXAMPLE}, roles=("billing",))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_patient_lab_results_cost_constant_queries(quiet_gateway: Harness) -> None:
    h = quiet_gateway
    for i in range(12):
        await h.create_patient(identifiers=[{"system": NATID, "value": f"NID{i}"}],
                               family=f"Family{i}")
        message = WORKED_EXAMPLE.replace("NID9988", f"NID{i}").replace("LAB000123", f"LAB{i}")
        message = message.replace("FIL552", f"FIL{i}")
        r = await h.client.post("/api/lab/hl7-ingest", content=message.encode(),
                                headers={**h.auth("lab"), "Content-Type": "text/plain"})
        assert r.json()["data"]["patient_matched"] is True
    q = """query($n: Int!) { patients(first: $n) { nodes { id labResults { code numericValue
           interpretation } } } }"""

    async def run(n: int) -> int:
        with count_queries(*h.engines) as counter:
            body = await h.gql(q, {"n": n}, roles=("clinician",))
        nodes = body["data"]["patients"]["nodes"]
        assert len(nodes) == n and all(len(p["labResults"]) == 2 for p in nodes)
        return counter.count

    small, large = await run(3), await run(12)
    assert small == large, f"query count grows with the page: {small} vs {large}"


async def test_lab_results_first_is_per_patient(quiet_gateway: Harness) -> None:
    """One patient's long history does not crowd the others off a page of patients."""
    h = quiet_gateway
    for i, messages in enumerate((6, 1)):  # the first patient has 12 results, the second 2
        await h.create_patient(identifiers=[{"system": NATID, "value": f"NIDP{i}"}])
        for m in range(messages):
            message = WORKED_EXAMPLE.replace("NID9988", f"NIDP{i}").replace(
                "LAB000123", f"LABP{i}-{m}").replace("FIL552", f"FILP{i}-{m}")
            r = await h.client.post("/api/lab/hl7-ingest", content=message.encode(),
                                    headers={**h.auth("lab"), "Content-Type": "text/plain"})
            assert r.json()["data"]["patient_matched"] is True
    body = await h.gql("""{ patients(first: 2) { nodes { few: labResults(first: 3) { id }
                           all: labResults { id } } } }""", roles=("clinician",))
    nodes = body["data"]["patients"]["nodes"]
    assert sorted((len(n["few"]), len(n["all"])) for n in nodes) == [(2, 2), (3, 12)]
    for n in nodes:  # the newest first: the short list is the head of the long one
        assert n["few"] == n["all"][:len(n["few"])]
