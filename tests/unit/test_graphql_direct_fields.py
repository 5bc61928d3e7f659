"""Scalar fields read directly (schema/execution.py) answer exactly as graphql-core does.

Each query runs twice on the same small schema: once with graphql-core's own executor
(Strawberry's default) and once with ours; data, errors, error paths and the order of the
keys must be identical, including the unusual cases the direct read hands back.
"""

from __future__ import annotations

import asyncio
import enum
import json
from typing import Any

import pytest
import strawberry

from schema.execution import ANSWERS_AT_ONCE, CollectableExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Item:
    id: strawberry.ID
    name: str | None
    count: int
    ratio: float | None
    colour: Colour | None
    tags: list[str]
    notes: list[str | None] | None = None

    @strawberry.field
    def shout(self) -> str:
        return (self.name or "").upper()

    @strawberry.field
    async def later(self) -> int:
        await asyncio.sleep(0)
        return self.count * 2

    @strawberry.field
    def scaled(self, by: int = 1) -> int:
        return self.count * by

    # Answered at once (schema/execution.py): the loop calls them, each with its own info.
    @strawberry.field(metadata={ANSWERS_AT_ONCE: True})
    def next_items(self, info: strawberry.Info, first: int = 2) -> list[Item]:
        PATHS.append(tuple(info.path.as_list()))
        return ITEMS[self.count + 1:self.count + 1 + first]

    @strawberry.field(metadata={ANSWERS_AT_ONCE: True})
    def odd_items(self) -> list[Item | None] | None:
        # A null list, a list with holes, a tuple (not a list: handed back) and a list.
        return [None, (ITEMS[1], None), [ITEMS[3], None], None, ITEMS[4:], (ITEMS[0],)][
            self.count]  # type: ignore[return-value]

    @strawberry.field(metadata={ANSWERS_AT_ONCE: True})
    def strict_items(self) -> list[Item]:
        if self.count == 4:
            raise ValueError("item 4 has no strict items")
        return [] if self.count == 3 else [None]  # type: ignore[list-item]  # 3: fine

    @strawberry.field(metadata={ANSWERS_AT_ONCE: True})
    async def awaited_items(self) -> list[Item]:
        return ITEMS[:1]


class Loose:
    """Duck-typed like Item, with values graphql-core must refuse or report."""

    def __init__(self, count: Any, name: Any = "n", colour: Any = None,
                 tags: Any = (), notes: Any = None) -> None:
        self.id, self.name, self.count, self.ratio = "L", name, count, None
        self.colour, self.tags, self.notes = colour, tags, notes


PATHS: list[tuple[str | int, ...]] = []  # the paths next_items was resolved at
ITEMS = [Item(id=strawberry.ID(str(n)), name=f"item {n}" if n % 2 else None, count=n,
              ratio=n / 3 if n % 3 else None, colour=Colour.RED if n % 2 else None,
              tags=[f"t{n}"], notes=[None, f"n{n}"] if n % 2 else None) for n in range(6)]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return ITEMS

    @strawberry.field
    def nullable_items(self) -> list[Item | None]:
        return [ITEMS[0], Loose(count=None), Loose(count="seven"), ITEMS[1],  # type: ignore[list-item]
                Loose(count=1, tags=["a", None]), Loose(count=1, tags=("a", 7)),
                Loose(count=1, tags=[{"not": "a string"}]), Loose(count=1, tags={"a", "b"}),
                Loose(count=1, notes=[None, "x", None]),
                # String fields holding other values: each goes through String's coercion,
                # not the unchanged-str shortcut.
                Loose(count=1, name=7), Loose(count=1, name=True), Loose(count=1, name=2.5),
                Loose(count=1, name=Colour.RED), Loose(count=1, name=b"bytes")]

    @strawberry.field
    def items_with_hole(self) -> list[Item]:
        return [ITEMS[0], None]  # type: ignore[list-item]

    @strawberry.field
    def item_tuple(self) -> list[Item | None]:
        return (ITEMS[2], None, ITEMS[3])  # type: ignore[return-value]

    @strawberry.field
    def item_generator(self) -> list[Item]:
        return (item for item in ITEMS[:2])  # type: ignore[return-value]

    @strawberry.field
    def lists_of_items(self) -> list[list[Item | None] | None]:
        return [ITEMS[:2], None, [None, ITEMS[4]]]

    @strawberry.field
    def bad_colour(self) -> Item | None:
        return Loose(count=1, colour="green")  # type: ignore[return-value]

    @strawberry.field
    def required(self) -> Item:
        return Loose(count=None)  # type: ignore[return-value]


def _run(query: str, ours: bool, variables: dict[str, Any] | None = None) -> str:
    schema = strawberry.Schema(
        query=Query, execution_context_class=CollectableExecutionContext if ours else None)
    result = asyncio.run(schema.execute(query, variable_values=variables))
    errors = [{"message": e.message, "path": e.path} for e in result.errors or []]
    # json.dumps keeps key order: the response's field order is compared too.
    return json.dumps({"data": result.data, "errors": errors})


QUERIES = [
    "{ items { id name count ratio colour tags } }",
    "{ items { count shout id later name scaled(by: 3) colour } }",
    "{ items { a: name b: name id ...F } } fragment F on Item { count name }",
    "query Q($skip: Boolean!) { items { id name @skip(if: $skip) count @include(if: $skip) } }",
    "{ nullableItems { id count name } }",
    "{ nullableItems { id tags notes } }",
    "{ items { notes tags } }",
    "{ badColour { id colour } }",
    "{ required { id count } }",
    "{ items { __typename id } }",
    "{ itemsWithHole { id name } }",
    "{ itemTuple { id count } itemGenerator { id colour } }",
    "{ listsOfItems { id name tags notes } }",
    "{ a: items { id } b: items { id count } c: nullableItems { name } }",
    "{ items { id ... on Item { name } ...F } } fragment F on Item { count }",
    "{ items { id nextItems { id name nextItems(first: 1) { count tags } } } }",
    "query N($n: Int!) { items { nextItems(first: $n) { id } count } }",
    "{ items { id oddItems { id } } }",
    "{ items { id strictItems { id } } }",
    "{ items { nextItems { id } awaitedItems { id } } }",
    "{ items { nextItems { id shout } } }",
    "{ items { nextItems @skip(if: true) { id } id } }",
    "{ items { a: nextItems(first: 1) { id } b: nextItems(first: 3) { name } } }",
]


@pytest.mark.parametrize("query", QUERIES)
def test_the_direct_read_answers_as_graphql_core_does(query: str) -> None:
    variables = {"skip": True} if "$skip" in query else {"n": 3} if "$n" in query else None
    assert _run(query, ours=True, variables=variables) == \
        _run(query, ours=False, variables=variables)


def test_the_unusual_cases_are_errors_with_their_paths() -> None:
    answer = json.loads(_run("{ nullableItems { id count } required { id count } }",
                             ours=True))
    paths = sorted(tuple(e["path"]) for e in answer["errors"])
    assert paths == [("nullableItems", 1, "count"), ("nullableItems", 2, "count"),
                     ("required", "count")]
    assert any("Cannot return null for non-nullable field Item.count" in e["message"]
               for e in answer["errors"])
    assert any("Int cannot represent" in e["message"] for e in answer["errors"])
    assert answer["data"] is None  # `required` is non-null: its null propagates to the root


def test_fields_keep_the_query_order() -> None:
    answer = json.loads(_run("{ items { shout count later id } }", ours=True))
    assert list(answer["data"]["items"][1]) == ["shout", "count", "later", "id"]


def test_a_resolve_extension_still_sees_every_field() -> None:
    """An extension that wraps resolvers (graphql-core middleware) must see the fields the
    direct read would otherwise answer on its own, even after a request without it."""
    from strawberry.extensions import SchemaExtension

    seen: list[str] = []

    class Watch(SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    schema = strawberry.Schema(query=Query, execution_context_class=CollectableExecutionContext,
                               extensions=[Watch])
    plain = strawberry.Schema(query=Query, execution_context_class=CollectableExecutionContext)
    for run in (plain, schema, plain, schema):
        result = asyncio.run(run.execute("{ items { id name } }"))
        assert result.errors is None and len(result.data["items"]) == len(ITEMS)  # type: ignore[index]
    assert seen.count("name") == 2 * len(ITEMS) and seen.count("id") == 2 * len(ITEMS)


class CountingContext(CollectableExecutionContext):
    """Counts the objects graphql-core completed one by one, by type."""

    completed_alone: dict[str, int] = {}

    def execute_fields(self, parent_type: Any, *args: Any, **kwargs: Any) -> Any:
        counts = CountingContext.completed_alone
        counts[parent_type.name] = counts.get(parent_type.name, 0) + 1
        return super().execute_fields(parent_type, *args, **kwargs)


def test_answered_fields_are_completed_in_the_loop_with_their_own_paths() -> None:
    query = "{ items { id nextItems(first: 1) { id } } }"
    theirs = asyncio.run(strawberry.Schema(query=Query).execute(query))
    PATHS.clear()
    CountingContext.completed_alone = {}
    ours = asyncio.run(strawberry.Schema(
        query=Query, execution_context_class=CountingContext).execute(query))
    assert ours.data == theirs.data and not ours.errors
    # Only the root: every Item, those of nextItems too, was completed in the loop, and
    # each nextItems resolved once, at its own path.
    assert CountingContext.completed_alone == {"Query": 1}
    assert PATHS == [("items", n, "nextItems") for n in range(6)]


def test_a_list_the_loop_cannot_finish_goes_back_whole_to_graphql_core() -> None:
    CountingContext.completed_alone = {}
    answer = asyncio.run(strawberry.Schema(
        query=Query, execution_context_class=CountingContext).execute(
        "{ items { id awaitedItems { id } } }"))
    assert not answer.errors and answer.data is not None
    assert answer.data["items"][5]["awaitedItems"] == [{"id": "0"}]
    assert CountingContext.completed_alone["Item"] >= 6  # each item on its own
