"""Reduced resolvers (schema/fast_resolvers.py) answer exactly as Strawberry's own chain.

Each query runs on two copies of the same schema, one with the reduced resolvers installed;
data, errors and error paths must be identical. The fields cover what the reduction must
leave alone (permission classes, enum and input arguments) and what it must pass through
(info, root, self, defaults, renamed arguments, nulls, async resolvers, exceptions).
"""

from __future__ import annotations

import asyncio
import enum
import json
from typing import Any

import pytest
import strawberry
from strawberry.permission import BasePermission

from schema.fast_resolvers import install_reduced_resolvers


class Deny(BasePermission):
    message = "denied"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


# has_permission's calls, by context name: the refusal path's side effect (an audit row,
# in schema/permissions.py), and the sign that a granted call went the reduced way.
ASKED: list[str] = []


class Members(BasePermission):
    """A permission with a cheap yes (``grants``), as schema/permissions.py's role checks."""

    message = "members only"

    async def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        ASKED.append(info.context["name"])
        return bool(info.context["name"] == "member")

    @staticmethod
    def grants(info: Any) -> bool:
        return bool(info.context["name"] == "member")


class Weighed(BasePermission):
    """A second check on the same field: both must grant."""

    message = "weighed boxes only"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return bool(source.weight > 0)

    @staticmethod
    def grants(info: Any) -> bool:
        return False  # never at once: always asked through Strawberry's chain


@strawberry.enum
class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


@strawberry.input
class Window:
    first: int = 2


@strawberry.type
class Box:
    label: str
    weight: int

    @strawberry.field
    def heavier(self, by: int = 1, unit_name: str | None = None) -> str:
        return f"{self.weight + by}{unit_name or ''}"

    @strawberry.field
    def where(self, info: strawberry.Info) -> str:
        return ".".join(str(key) for key in info.path.as_list())

    @strawberry.field
    async def later(self, times: int) -> int:
        await asyncio.sleep(0)
        return self.weight * times

    @strawberry.field
    def broken(self) -> int | None:
        raise ValueError(f"box {self.label} is broken")

    @strawberry.field
    def required_broken(self) -> int:
        raise ValueError("never")

    @strawberry.field
    def sized(self, size: Size = Size.SMALL) -> str:
        return f"{self.label}:{size.value}"

    @strawberry.field
    def windowed(self, window: Window) -> int:
        return window.first * self.weight

    @strawberry.field(permission_classes=[Deny])
    def secret(self) -> str:
        return "no"

    @strawberry.field
    def with_id(self, key: strawberry.ID, ratio: float = 0.5, flag: bool = False) -> str:
        return f"{key}|{ratio}|{flag}"

    @strawberry.field(permission_classes=[Members])
    def members_label(self, suffix: str = "") -> str:
        return self.label + suffix

    @strawberry.field(permission_classes=[Members, Weighed])
    def members_weight(self) -> int | None:
        return self.weight


BOXES = [Box(label=f"b{n}", weight=n) for n in range(3)]


@strawberry.type
class Query:
    @strawberry.field
    def boxes(self, first: int = 10) -> list[Box]:
        return BOXES[:first]

    @strawberry.field
    def from_root(root: Any, label: str) -> str:  # Strawberry passes the root as `root`
        return f"root={root!r} label={label}"

    @strawberry.field
    def context_name(self, info: strawberry.Info) -> str:
        return str(info.context["name"])

    @strawberry.field
    async def async_boxes(self) -> list[Box]:
        return BOXES

    @strawberry.field(permission_classes=[Members])
    async def members_boxes(self, first: int = 10) -> list[Box] | None:
        return BOXES[:first]


def _schema(reduced: bool) -> tuple[strawberry.Schema, int]:
    schema = strawberry.Schema(query=Query)
    return schema, install_reduced_resolvers(schema) if reduced else 0


def _run(query: str, reduced: bool, variables: dict[str, Any] | None = None,
         name: str = "ctx") -> str:
    schema, _ = _schema(reduced)
    result = asyncio.run(schema.execute(query, variable_values=variables,
                                        context_value={"name": name}, root_value="R"))
    errors = [{"message": e.message, "path": e.path} for e in result.errors or []]
    return json.dumps({"data": result.data, "errors": errors})


QUERIES = [
    "{ boxes { label heavier } }",
    "{ boxes(first: 2) { heavier(by: 5, unitName: \"kg\") where } }",
    "query Q($by: Int!, $u: String) { boxes { heavier(by: $by, unitName: $u) } }",
    "{ boxes { later(times: 3) broken } asyncBoxes { later(times: 2) where } }",
    "{ boxes { requiredBroken } }",
    "{ boxes { sized big: sized(size: LARGE) windowed(window: {first: 3}) } }",
    "{ boxes { secret label } }",
    "{ boxes { withId(key: \"k\") other: withId(key: 7, ratio: 2, flag: true) } }",
    "{ fromRoot(label: \"x\") contextName }",
]


@pytest.mark.parametrize("query", QUERIES)
def test_reduced_resolvers_answer_as_strawberry_does(query: str) -> None:
    variables = {"by": 4, "u": None} if "$by" in query else None
    assert _run(query, True, variables) == _run(query, False, variables)


def test_only_the_fields_without_work_in_the_chain_are_reduced() -> None:
    schema, replaced = _schema(True)
    box = schema._schema.type_map["Box"].fields  # type: ignore[union-attr]
    assert replaced > 0
    reduced = {name for name, f in box.items() if f.resolve is not None
               and f.resolve.__qualname__.startswith("reduced_resolver")}
    assert reduced == {"heavier", "where", "later", "broken", "requiredBroken", "withId",
                       "membersLabel", "membersWeight"}
    answer = json.loads(_run("{ boxes { where heavier(by: 2) } }", True))
    assert answer["data"]["boxes"][1] == {"where": "boxes.1.where", "heavier": "3"}


GUARDED = "{ membersBoxes(first: 2) { label membersLabel(suffix: \"!\") membersWeight } }"


@pytest.mark.parametrize("name", ["member", "ctx"])
def test_guarded_fields_answer_and_refuse_as_strawberry_does(name: str) -> None:
    assert _run(GUARDED, True, name=name) == _run(GUARDED, False, name=name)


def test_a_granted_call_skips_the_chain_and_a_refused_one_goes_through_it() -> None:
    ASKED.clear()
    granted = json.loads(_run(GUARDED, True, name="member"))
    # Two boxes, membersWeight refused on the first by Weighed (weight 0) through the
    # chain, which asks Members' has_permission again; nothing else asks it.
    assert granted["data"]["membersBoxes"][1] == {"label": "b1", "membersLabel": "b1!",
                                                  "membersWeight": 1}
    assert [e["message"] for e in granted["errors"]] == ["weighed boxes only"]
    assert ASKED == ["member", "member"]
    ASKED.clear()
    refused = json.loads(_run(GUARDED, True, name="ctx"))
    assert refused["data"] == {"membersBoxes": None}
    assert [e["message"] for e in refused["errors"]] == ["members only"]
    assert ASKED == ["ctx"]


def test_the_gateways_role_guarded_fields_are_reduced() -> None:
    from schema.build import build_schema

    fields = build_schema(max_depth=10, max_cost=1000)._schema.query_type.fields  # type: ignore[union-attr]
    for name in ("patient", "patients", "organization"):
        assert fields[name].resolve.__qualname__.startswith("reduced_resolver"), name
