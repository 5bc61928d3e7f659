"""Page sizes: a negative `first` is refused, and no field can lower a query's cost."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLError, parse, validate

from schema.build import build_schema
from schema.limits import cost_limit_rule
from tests.support import Harness

ALL_ROLES = ("admin", "clinician", "lab", "billing", "integrator", "public_health")
COSTLY = " ".join(f"a{i}: patients(first: 200) {{ nodes {{ id family }} }}" for i in range(25))


def _cost(query: str) -> int:
    """The cost the limit rule computes (reported by a rule whose limit is 0)."""
    schema = build_schema(max_depth=20, max_cost=5000)._schema
    errors = validate(schema, parse(query), [cost_limit_rule(0)])
    [reported] = [e for e in errors if (e.extensions or {}).get("code") == "QUERY_TOO_COSTLY"]
    cost = (reported.extensions or {})["cost"]
    assert isinstance(cost, int)
    return cost


async def test_a_negative_page_size_cannot_buy_room_for_costly_aliases(gateway: Harness) -> None:
    alone = await gateway.gql("{ " + COSTLY + " }")
    assert [e["extensions"]["code"] for e in alone["errors"]] == ["QUERY_TOO_COSTLY"]

    with_negative = await gateway.gql(
        "{ " + COSTLY + " cheap: patients(first: -1000000) { nodes { id } } }")
    codes = {e["extensions"]["code"] for e in with_negative["errors"]}
    assert codes == {"QUERY_TOO_COSTLY", "BAD_USER_INPUT"}
    assert "data" not in with_negative or with_negative["data"] is None


@pytest.mark.parametrize("size", ["-1000000", "-1", "0", "1", "2147483647", "9" * 5000])
def test_adding_a_field_never_lowers_the_cost(size: str) -> None:
    base = "{ patients(first: 20) { nodes { id family } } }"
    extra = f"{{ patients(first: 20) {{ nodes {{ id family }} }} more: patients(first: {size}) " \
            "{ nodes { id } } }"
    assert _cost(extra) > _cost(base)


@pytest.mark.parametrize("argument", ["first", "limit", "count"])
def test_a_negative_literal_page_argument_is_a_validation_error(argument: str) -> None:
    schema = build_schema(max_depth=20, max_cost=5000)._schema
    errors: list[GraphQLError] = validate(
        schema, parse(f"{{ patients({argument}: -5) {{ nodes {{ id }} }} }}"),
        [cost_limit_rule(5000)])
    mine = [e for e in errors if (e.extensions or {}).get("code") == "BAD_USER_INPUT"]
    assert len(mine) == 1 and mine[0].message.startswith(f"{argument} must be 0 or more")


LIST_FIELDS = [
    "patients(first: $first) { nodes { id } }",
    "organizations(first: $first) { nodes { id } }",
    "auditEvents(first: $first) { nodes { id } }",
    "outboxMessages(first: $first) { id }",
    "labAlerts(first: $first) { id }",
    "patientLinks(first: $first) { id }",
    "payments(first: $first) { nodes { id } }",
    "stripeSubscriptions(first: $first) { nodes { id } }",
    "webhookEvents(first: $first) { nodes { id } }",
    "observations(first: $first) { nodes { id } }",
    "diagnosticReports(first: $first) { nodes { id } }",
    "encounters(first: $first) { nodes { id } }",
    "medicationRequests(first: $first) { nodes { id } }",
    "conditions(first: $first) { nodes { id } }",
    "allergyIntolerances(first: $first) { nodes { id } }",
    "procedures(first: $first) { nodes { id } }",
    "immunizations(first: $first) { nodes { id } }",
    "appointments(first: $first) { nodes { id } }",
    "appointmentResponses(first: $first) { nodes { id } }",
    "practitioners(first: $first) { nodes { id } }",
]


@pytest.mark.parametrize("selection", LIST_FIELDS, ids=lambda s: s.split("(")[0])
async def test_every_list_field_refuses_a_negative_first_from_a_variable(
        gateway: Harness, selection: str) -> None:
    query = "query($first: Int!) { " + selection + " }"
    body: dict[str, Any] = await gateway.gql(query, {"first": -3}, roles=ALL_ROLES)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["message"] == "first must be 0 or more (at most 200 are returned)"

    fine = await gateway.gql(query, {"first": 5}, roles=ALL_ROLES)
    assert "errors" not in fine, fine
