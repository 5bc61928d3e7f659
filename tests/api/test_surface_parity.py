"""REST and GraphQL answer the same values for the same thing, field by field.

Both surfaces render one use-case view (ARCHITECTURE: "Each use case returns one view that
REST and GraphQL both render"). Each test reads one thing over both and compares every field
the two share, REST ``snake_case`` against GraphQL ``camelCase``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import text

from tests.api.test_lab_ingest import NATID, WORKED_EXAMPLE
from tests.payments.fakes.stripe_api import FakeStripe
from tests.payments.stripe_support import deliver, fake_stripe, stripe_app  # noqa: F401  (fixtures)
from tests.payments.test_stripe_refunds import paid, refund
from tests.receiver import eventually
from tests.support import Harness

PAYMENT_FIELDS = ["id", "status", "direction", "provider", "amount", "currency", "reference",
                  "description", "phone", "patient_id", "provider_reference",
                  "provider_transaction_id", "redirect_url", "failure_reason", "created_at",
                  "updated_at", "expires_at", "refunded_amount"]
TRANSITION_FIELDS = ["from_status", "to_status", "reason", "source", "at"]
INGEST_FIELDS = ["patient_matched", "patient_id", "observations_created", "match_grade"]
PATIENT_FIELDS = ["id", "family", "given", "birth_date", "gender", "phone", "version",
                  "created_at", "updated_at"]
# GraphQL enums answer their names (SUCCEEDED, FEMALE); REST the values (succeeded, female).
ENUM_FIELDS = frozenset({"status", "gender"})


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def gql_selection(fields: list[str]) -> str:
    return " ".join(camel(f) for f in fields)


def _normal(field: str, value: Any) -> Any:
    """The same value as both surfaces spell it: timestamps and dates parsed (REST writes
    ``Z``, GraphQL ``+00:00``), enum names and values folded to one case."""
    if isinstance(value, str) and field in ENUM_FIELDS:
        return value.lower()
    if isinstance(value, str) and (field.endswith(("_at", "_date")) or field == "at"):
        return (date.fromisoformat(value) if field.endswith("_date")
                else datetime.fromisoformat(value.replace("Z", "+00:00")))
    return value


def differences(rest: dict[str, Any], gql: dict[str, Any], fields: list[str]) -> list[str]:
    return [f"{f}: REST {rest[f]!r} != GraphQL {gql[camel(f)]!r}" for f in fields
            if _normal(f, rest[f]) != _normal(f, gql[camel(f)])]


# ------------------------------------------------------------------------------------ payments

PAYMENT_QUERY = f"""query($id: ID!) {{ payment(id: $id) {{ {gql_selection(PAYMENT_FIELDS)}
  history {{ {gql_selection(TRANSITION_FIELDS)} }} }} }}"""
PAYMENTS_QUERY = f"""query($ref: String!) {{ payments(reference: $ref) {{
  nodes {{ {gql_selection(PAYMENT_FIELDS)} }} }} }}"""


async def _payment_differences(h: Harness, payment_id: str, reference: str) -> list[str]:
    """What REST and GraphQL disagree on, for the single read and for the listing."""
    billing = h.auth("billing")
    rest = (await h.client.get(f"/api/payments/{payment_id}", headers=billing)).json()["data"]
    gql = (await h.gql(PAYMENT_QUERY, {"id": payment_id}, roles=("billing",)))["data"]["payment"]
    found = differences(rest, gql, PAYMENT_FIELDS)
    assert len(rest["history"]) == len(gql["history"]) > 0
    for rest_t, gql_t in zip(rest["history"], gql["history"], strict=True):
        found += [f"history {d}" for d in differences(rest_t, gql_t, TRANSITION_FIELDS)]
    listed = (await h.client.get("/api/payments", params={"reference": reference},
                                 headers=billing)).json()["data"]["items"]
    nodes = (await h.gql(PAYMENTS_QUERY, {"ref": reference},
                         roles=("billing",)))["data"]["payments"]["nodes"]
    assert [x["id"] for x in listed] == [n["id"] for n in nodes] == [payment_id]
    found += [f"list {d}" for d in differences(listed[0], nodes[0], PAYMENT_FIELDS)]
    # The listing is the same view as the single read, not a cheaper guess at it.
    found += [f"list vs read {d}" for d in differences(listed[0], gql, PAYMENT_FIELDS)]
    return found


async def test_payment_with_a_partial_refund(stripe_app: Harness,  # noqa: F811  (fixture)
                                             fake_stripe: FakeStripe) -> None:  # noqa: F811
    h = stripe_app
    p = await paid(h, fake_stripe, "parity", amount=5000)
    asked = await refund(h, p["id"], "parity-refund", amount=1500)
    assert asked.status_code == 201, asked.text
    await deliver(h, "refund.updated", fake_stripe.refunds[asked.json()["data"]["stripe_refund_id"]])

    async def read() -> dict[str, Any]:
        got = await h.client.get(f"/api/payments/{p['id']}", headers=h.auth("billing"))
        data: dict[str, Any] = got.json()["data"]
        return data

    settled = await eventually(read, lambda d: d["refunded_amount"] == 1500)
    assert settled["status"] == "succeeded" and settled["refunds"][0]["status"] == "succeeded"
    # The refund becomes visible before the event's handler has written the payment's running
    # total (and updated_at) in its second transaction: the two surfaces must agree once that
    # has run; a difference that stays fails here after the timeout, with what differed.
    await eventually(lambda: _payment_differences(h, p["id"], "parity"), lambda d: d == [])

    # The refund event commits the refund row and then, in a second transaction, the
    # payment's running total (refunded_minor). A read between the two, or after a crash
    # between them, finds a succeeded refund of 1500 beside a running total of 0. REST used
    # to answer 1500 (from the refund rows) and GraphQL 0 (from the running total).
    async with h.engine.begin() as connection:
        await connection.execute(text("UPDATE payments SET refunded_minor = 0 WHERE id = :id"),
                                 {"id": p["id"]})
    assert await _payment_differences(h, p["id"], "parity") == []
    gql = (await h.gql(PAYMENT_QUERY, {"id": p["id"]}, roles=("billing",)))["data"]["payment"]
    assert gql["refundedAmount"] == 1500  # what is refunded for sure: the confirmed refund


# ------------------------------------------------------------------------------------- labs

INGEST_MUTATION = f"""mutation($m: String!) {{ ingestHl7(message: $m) {{ __typename
  ... on IngestResult {{ labResultId {gql_selection(INGEST_FIELDS)} warnings {{ location message }} }}
}} }}"""


async def test_lab_ingest_answers(gateway: Harness) -> None:
    h = gateway
    await h.create_patient(identifiers=[{"system": NATID, "value": "NID9988"}],
                           family="Odhiambo", given=["Grace"], birth_date="1985-04-12",
                           gender="female")
    # The same message under two control ids: the second is not a duplicate of the first.
    over_rest = WORKED_EXAMPLE.replace("|LAB000123|", "|PARITY-REST|")
    over_gql = WORKED_EXAMPLE.replace("|LAB000123|", "|PARITY-GQL|")
    r = await h.client.post("/api/lab/hl7-ingest", content=over_rest.encode(),
                            headers={**h.auth("lab"), "Content-Type": "text/plain"})
    assert r.status_code in (200, 201), r.text
    rest = r.json()["data"]
    gql = (await h.gql(INGEST_MUTATION, {"m": over_gql}, roles=("lab",)))["data"]["ingestHl7"]
    assert gql["__typename"] == "IngestResult"
    assert differences(rest, gql, INGEST_FIELDS) == []
    assert rest["warnings"] == gql["warnings"]
    assert rest["patient_matched"] is True and rest["observations_created"] == 2
    assert rest["lab_result_id"] != gql["labResultId"]  # two results: neither was a replay


# --------------------------------------------------------------------------------- patients

PATIENT_QUERY = f"""query($id: ID!) {{ patient(id: $id) {{ {gql_selection(PATIENT_FIELDS)}
  identifiers {{ system value }} managingOrganization {{ id }} }} }}"""


async def test_patient_read(gateway: Harness) -> None:
    h = gateway
    org = await h.client.post("/api/organizations", json={"name": "Parity Hospital"},
                              headers=h.auth("admin"))
    assert org.status_code == 201, org.text
    org_id = org.json()["data"]["id"]
    created = await h.create_patient(family="Achieng", given=["Mary", "Atieno"],
                                     birth_date="1990-02-03", gender="female",
                                     phone="+254712345678", organization_id=org_id)
    rest = (await h.client.get(f"/api/patients/{created['id']}",
                               headers=h.auth("clinician"))).json()["data"]
    gql = (await h.gql(PATIENT_QUERY, {"id": created["id"]},
                       roles=("clinician",)))["data"]["patient"]
    assert differences(rest, gql, PATIENT_FIELDS) == []
    assert rest["identifiers"] == gql["identifiers"]
    assert rest["organization_id"] == gql["managingOrganization"]["id"] == org_id
