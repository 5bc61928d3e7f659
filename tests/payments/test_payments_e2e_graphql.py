"""GraphQL end to end: initiatePayment through the whole gateway to the fake MTN MoMo, the
fake's callback to the real callback URL, then payment(id) with history and Patient.payments.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.payments.e2e_support import live_gateway, momo_env, reconcile, transitions_to
from tests.payments.fakes.base import serving
from tests.payments.fakes.momo import FakeMomo, MomoScenario
from tests.receiver import eventually
from tests.support import Harness

pytestmark = pytest.mark.slow
INITIATE = """mutation($input: PaymentInput!, $key: String!) {
  initiatePayment(input: $input, idempotencyKey: $key) { __typename
    ... on Payment { id status provider amount currency phone providerReference patientId }
    ... on ValidationError { message problems { field message } } } }"""
PAYMENT = """query($id: ID!) { payment(id: $id) { id status providerTransactionId failureReason
    history { fromStatus toStatus source reason } } }"""
PATIENT = """query($id: ID!) { patient(id: $id) { id
    payments { id status amount history { toStatus } } } }"""


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[tuple[Harness, FakeMomo]]:
    async with serving(FakeMomo(target_environment="mtnuganda")) as fake:
        assert isinstance(fake, FakeMomo)
        async with live_gateway(tmp_path, momo_env(fake)) as harness:
            yield harness, fake


async def test_initiate_payment_settles_by_callback_and_reads_back(
        gw: tuple[Harness, FakeMomo]) -> None:
    h, momo = gw
    momo.scenarios.default = MomoScenario(pending_seconds=0.3)
    patient = await h.create_patient(family="Nakato")
    made = (await h.gql(INITIATE, {"input": {
        "provider": "mtn_momo", "amount": 20000, "currency": "UGX", "phone": "0772123456",
        "reference": "INV-9", "patientId": patient["id"]}, "key": "gql-1"},
        roles=("billing",)))["data"]["initiatePayment"]
    assert made["__typename"] == "Payment", made
    assert made["status"] == "PENDING" and made["phone"] == "+256772123456"
    assert made["patientId"] == patient["id"]
    assert momo.transactions[made["providerReference"]].body["amount"] == "20000"

    async def read() -> dict[str, object]:
        body = await h.gql(PAYMENT, {"id": made["id"]}, roles=("billing",))
        found: dict[str, object] = body["data"]["payment"]
        return found

    done = await eventually(read, lambda p: p["status"] != "PENDING")
    await momo.settle()
    assert momo.callbacks[0].status == 200
    assert done["status"] == "SUCCEEDED"
    assert done["providerTransactionId"] == momo.transactions[made["providerReference"]].financial_id
    history = done["history"]
    assert isinstance(history, list)
    assert [(t["fromStatus"], t["toStatus"], t["source"]) for t in history] == [
        (None, "created", "api"), ("created", "pending", "api"),
        ("pending", "succeeded", "callback")]

    again = (await h.gql(INITIATE, {"input": {
        "provider": "mtn_momo", "amount": 20000, "currency": "UGX", "phone": "0772123456",
        "reference": "INV-9", "patientId": patient["id"]}, "key": "gql-1"},
        roles=("billing",)))["data"]["initiatePayment"]
    assert again["id"] == made["id"] and len(momo.calls("/collection/v1_0/requesttopay")) == 1

    owned = (await h.gql(PATIENT, {"id": patient["id"]}, roles=("billing",)))["data"]["patient"]
    assert owned["payments"] == [{"id": made["id"], "status": "SUCCEEDED", "amount": 20000,
                                  "history": [{"toStatus": "created"}, {"toStatus": "pending"},
                                              {"toStatus": "succeeded"}]}]


async def test_graphql_payment_without_callback_is_settled_by_the_poller(
        gw: tuple[Harness, FakeMomo]) -> None:
    h, momo = gw
    momo.scenarios.default = MomoScenario("FAILED", "NOT_ENOUGH_FUNDS", callback=False)
    made = (await h.gql(INITIATE, {"input": {
        "provider": "mtn_momo", "amount": 5000, "currency": "UGX", "phone": "+256 772 123 457",
        "reference": "INV-10"}, "key": "gql-2"}, roles=("billing",)))["data"]["initiatePayment"]
    assert made["status"] == "PENDING"
    await reconcile(h, made["id"])
    done = (await h.gql(PAYMENT, {"id": made["id"]}, roles=("billing",)))["data"]["payment"]
    assert done["status"] == "FAILED" and done["failureReason"] == "NOT_ENOUGH_FUNDS"
    assert done["history"][-1]["source"] == "reconcile"
    assert await transitions_to(h, made["id"], "failed") == 1
    invalid = (await h.gql(INITIATE, {"input": {
        "provider": "mtn_momo", "amount": 5000, "currency": "KES", "phone": "0772123456",
        "reference": "INV-11"}, "key": "gql-3"}, roles=("billing",)))["data"]["initiatePayment"]
    assert invalid["__typename"] == "ValidationError"
    assert invalid["problems"][0]["field"] == "currency"
    assert len(momo.calls("/collection/v1_0/requesttopay")) == 1
