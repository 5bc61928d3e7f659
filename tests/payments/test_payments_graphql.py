"""GraphQL: initiatePayment with typed errors, payment(s), Patient.payments without N+1."""

from __future__ import annotations

from tests.payments.fake_provider import FakeProvider
from tests.support import Harness, count_queries

INITIATE = """mutation($input: PaymentInput!, $key: String!) {
  initiatePayment(input: $input, idempotencyKey: $key) { __typename
    ... on Payment { id status amount currency provider providerReference phone
                     history { fromStatus toStatus source } }
    ... on ValidationError { message problems { field message } }
    ... on ConflictError { message }
    ... on ForbiddenError { message } } }"""
INPUT = {"provider": "mpesa", "amount": 150000, "currency": "KES", "phone": "0712345678",
         "reference": "INV-1"}


async def test_initiate_payment_and_typed_errors(pay: Harness, fake_mpesa: FakeProvider) -> None:
    first = (await pay.gql(INITIATE, {"input": INPUT, "key": "g1"}, roles=("billing",)))
    created = first["data"]["initiatePayment"]
    assert created["__typename"] == "Payment" and created["status"] == "PENDING"
    assert [h["toStatus"] for h in created["history"]] == ["created", "pending"]
    again = await pay.gql(INITIATE, {"input": INPUT, "key": "g1"}, roles=("billing",))
    assert again["data"]["initiatePayment"]["id"] == created["id"]
    assert len(fake_mpesa.collections) == 1
    conflict = await pay.gql(INITIATE, {"input": {**INPUT, "amount": 100}, "key": "g1"},
                             roles=("billing",))
    assert conflict["data"]["initiatePayment"]["__typename"] == "ConflictError"
    invalid = await pay.gql(INITIATE, {"input": {**INPUT, "currency": "EUR"}, "key": "g2"},
                            roles=("billing",))
    assert invalid["data"]["initiatePayment"]["__typename"] == "ValidationError"
    assert invalid["data"]["initiatePayment"]["problems"][0]["field"] == "currency"
    denied = await pay.gql(INITIATE, {"input": INPUT, "key": "g3"}, roles=("clinician",))
    assert denied["data"]["initiatePayment"]["__typename"] == "ForbiddenError"


async def test_payment_and_payments_queries(pay: Harness) -> None:
    made = (await pay.gql(INITIATE, {"input": INPUT, "key": "q1"},
                          roles=("billing",)))["data"]["initiatePayment"]
    one = await pay.gql("""query($id: ID!) { payment(id: $id) { id status
        history { toStatus } } missing: payment(id: "nope") { id } }""", {"id": made["id"]},
                        roles=("billing",))
    assert one["data"]["payment"]["history"][-1]["toStatus"] == "pending"
    assert one["data"]["missing"] is None
    listed = await pay.gql("""{ payments(first: 5, provider: "mpesa", status: PENDING) {
        nodes { id } pageInfo { hasNextPage } } }""", roles=("billing",))
    assert [n["id"] for n in listed["data"]["payments"]["nodes"]] == [made["id"]]
    denied = await pay.gql("{ payments { nodes { id } } }", roles=("lab",))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_patient_payments_cost_the_same_for_1_and_20_patients(pay_quiet: Harness) -> None:
    pay = pay_quiet
    patients = [await pay.create_patient(family=f"Otieno{i}") for i in range(20)]
    for i, p in enumerate(patients):
        r = await pay.client.post("/api/payments", json={**INPUT, "amount": 100 * (i + 1),
                                                          "patient_id": p["id"]},
                                  headers={**pay.auth("billing"), "Idempotency-Key": f"p{i}"})
        assert r.status_code == 201, r.text
    query = """query($n: Int!) { patients(first: $n) { nodes { id
        payments { id amount history { toStatus } } } } }"""

    async def run(n: int) -> int:
        with count_queries(*pay.engines) as counter:
            body = await pay.gql(query, {"n": n}, roles=("billing",))
        nodes = body["data"]["patients"]["nodes"]
        assert len(nodes) == n and all(len(p["payments"]) == 1 for p in nodes)
        return counter.count

    one, twenty = await run(1), await run(20)
    assert one == twenty, f"query count grows with the page: {one} vs {twenty}"
    # A clinician may read patients but not their payments.
    clinician = await pay.gql("{ patients(first: 1) { nodes { id payments { id } } } }",
                              roles=("clinician",))
    assert clinician["data"]["patients"]["nodes"][0]["payments"] is None
    assert clinician["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    audit = await pay.client.get("/api/admin/audit-events", params={
        "patient_id": patients[0]["id"], "resource_type": "Payment", "action": "R"},
        headers=pay.auth("admin"))
    assert audit.json()["data"]["items"], "Patient.payments reads are audited"
