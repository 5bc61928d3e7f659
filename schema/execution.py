"""GraphQL execution: scalar fields read directly, and no reference cycle left behind.

**Scalar fields read directly.** graphql-core executes every field the same way: a path
entry, a resolve info of fourteen values, the resolver, then value completion through the
non-null, list, leaf and object cases, each asking whether the value is awaitable. For a
field Strawberry resolves by reading an attribute (no resolver, no arguments, no field
extension) and whose type is a scalar or an enum (or a list of them), all of that yields
``type.coerce_output_value(getattr(source, name))`` (for each item). A page of 50
patients with 5 results each is ~1,250 such fields of ~1,400. Those fields are read that
way here; anything unusual (a null in a non-null field, a value the scalar refuses,
``@defer``, schema middleware) goes through graphql-core's own ``execute_field``, so
errors keep their messages and paths.

**Lists of such objects completed in one loop.** Where a list's items are objects whose
every selected field is read directly (a patient's lab results, say), graphql-core would
complete each item on its own: the item's path, the null, list, leaf, abstract and object
cases, its sub-fields looked up again, and an executor call per item. Here the list is
completed at once; any item that needs more (a null, a value the direct read hands back)
sends the whole list back to graphql-core, which reads the same values again: reading an
attribute has no side effect.

**Fields answered at once.** A field whose resolver is marked ``ANSWERS_AT_ONCE`` (in its
Strawberry metadata: the resolver has no side effect and, given the same arguments, answers
the same) and whose type is a list of objects joins that loop: its arguments are read once
for the whole list, and each item's resolver is called with its own resolve info. An answer
that is a list is completed in the same loop; anything else (an awaitable, a null, an
error) sends the whole list back to graphql-core, which calls the resolvers again.
``Patient.labResults`` on a page of 50 patients whose results were read ahead is one.

**No reference cycle.** graphql-core's executor holds ``async_helpers``, a tuple of its own
bound methods: a cycle. Everything the executor references (our context with its request
and DataLoaders, the collected fields, the variables, the resolve infos) could then only be
freed by the cycle collector, and with a request's objects still in flight at each young
collection most of them were promoted and freed by full collections: about a fifth of the
CPU of a GraphQL patient read went to the collector. Once the response is built, the
helpers are replaced by ones that refer to nothing, so the request's objects are freed as
soon as it ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from inspect import iscoroutine
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLField,
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from schema.direct_reads import Reader, field_reader, output, read, unwrap


async def _finished_gather(_values: Sequence[Awaitable[Any]]) -> list[Any]:
    raise RuntimeError("this GraphQL execution has finished")


def _finished_track(_values: Any) -> None:
    raise RuntimeError("this GraphQL execution has finished")


FINISHED = GraphQLResolveInfoHelpers(gather=_finished_gather, track=_finished_track)

# Where a field keeps its Reader (None: not read directly), in its own extensions.
_READER = "cari-direct-reader"
# The Strawberry metadata key marking a resolver whose field may be answered at once.
ANSWERS_AT_ONCE = "cari.answers_at_once"
# How a field answered at once is resolved: its definition, its resolver, its field nodes,
# the type of its list's items, and whether the field is non-null.
AtOnce = tuple[GraphQLField, Callable[..., Any], FieldDetailsList, GraphQLOutputType, bool]
# An object's field in the list loop: (response name, its Reader, or how it is answered at
# once).
ObjectField = tuple[str, Reader | None, AtOnce | None]
# (response name, its field nodes, its Reader or None where graphql-core executes it)
PlannedField = tuple[str, FieldDetailsList, Reader | None]
# A set's plan (None: no field read directly) and, when every field is, its readers by name.
Planned = tuple[list[PlannedField] | None, list[tuple[str, Reader]] | None]


class CollectableExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Plans by grouped field set: graphql-core collects an object type's sub-fields
        # once per request and hands the same set for every object of a list.
        self._plans: dict[int, tuple[GroupedFieldSet, Planned]] = {}
        self._object_plans: dict[int, tuple[GroupedFieldSet, list[ObjectField] | None]] = {}

    def _reader(self, parent_type: GraphQLObjectType,
                field_details_list: FieldDetailsList) -> Reader | None:
        node = field_details_list[0].node
        field_def = self.schema.get_field(parent_type, node.name.value)
        if field_def is None or node.arguments:
            return None
        # What a field's reader is depends on the field alone: kept with it, so each
        # request's plans only look it up (working it out was 3% of a patient read).
        if _READER not in field_def.extensions:
            field_def.extensions[_READER] = field_reader(field_def)
        reader: Reader | None = field_def.extensions[_READER]
        resolve = field_def.resolve
        if reader is not None and resolve is not None and self.middleware_manager \
                is not None and self.middleware_manager.get_field_resolver(resolve) \
                is not resolve:
            return None
        return reader

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
              ) -> Planned:
        """The set's fields with their readers (None when no field is read directly), and
        its (name, reader) pairs when every field is read directly (else None)."""
        cached = self._plans.get(id(grouped_field_set))
        if cached is not None and cached[0] is grouped_field_set:
            return cached[1]
        plan = [(name, details, self._reader(parent_type, details))
                for name, details in grouped_field_set.items()]
        readers = [(name, reader) for name, _, reader in plan if reader is not None]
        planned: Planned = (None, None) if not readers else \
            (plan, readers if len(readers) == len(plan) else None)
        self._plans[id(grouped_field_set)] = (grouped_field_set, planned)  # keeps the id valid
        return planned

    def _at_once(self, parent_type: GraphQLObjectType,
                 field_details_list: FieldDetailsList) -> AtOnce | None:
        node = field_details_list[0].node
        field_def = self.schema.get_field(parent_type, node.name.value)
        if field_def is None or any(details.node.directives for details in field_details_list):
            return None
        field = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        resolve = field_def.resolve
        if not isinstance(field, StrawberryField) or not field.metadata.get(ANSWERS_AT_ONCE) \
                or resolve is None or (self.middleware_manager is not None and
                                       self.middleware_manager.get_field_resolver(resolve)
                                       is not resolve):
            return None
        list_type, non_null = unwrap(field_def.type)
        if not isinstance(list_type, GraphQLList):
            return None
        return field_def, resolve, field_details_list, list_type.of_type, non_null

    def _object_plan(self, object_type: GraphQLObjectType,
                     grouped_field_set: GroupedFieldSet) -> list[ObjectField] | None:
        """Each field read directly or answered at once; None if any is neither."""
        cached = self._object_plans.get(id(grouped_field_set))
        if cached is not None and cached[0] is grouped_field_set:
            return cached[1]
        fields: list[ObjectField] | None = []
        for name, details in grouped_field_set.items():
            reader = self._reader(object_type, details)
            at_once = None if reader is not None else self._at_once(object_type, details)
            if reader is None and at_once is None:
                fields = None
                break
            assert fields is not None
            fields.append((name, reader, at_once))
        self._object_plans[id(grouped_field_set)] = (grouped_field_set, fields)
        return fields

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any,
                       path: Path | None, grouped_field_set: GroupedFieldSet,
                       position_context: Any) -> Any:
        plan, _all_direct = self._plan(parent_type, grouped_field_set)
        if plan is None or position_context is not None:
            return super().execute_fields(parent_type, source_value, path,
                                          grouped_field_set, position_context)
        direct: dict[str, Any] = {}
        rest: GroupedFieldSet = {}
        for name, details, reader in plan:
            if reader is not None:
                value = read(reader, source_value)
                if value is not Undefined:
                    direct[name] = value
                    continue
            rest[name] = details
        if not rest:
            return direct
        executed = super().execute_fields(parent_type, source_value, path, rest,
                                          position_context)
        if isinstance(executed, dict):
            return _in_order(direct, executed, grouped_field_set)
        return _merged(direct, executed, grouped_field_set)

    def complete_list_value(self, return_type: GraphQLList[GraphQLOutputType],
                            field_details_list: FieldDetailsList, info: GraphQLResolveInfo[Any],
                            path: Path, result: Any, position_context: Any) -> Any:
        if position_context is None and type(result) is list:
            completed = self._direct_objects(return_type.of_type, field_details_list, result,
                                             path)
            if completed is not None:
                return completed
        return super().complete_list_value(return_type, field_details_list, info, path,
                                           result, position_context)

    def _direct_objects(self, item_type: GraphQLOutputType,
                        field_details_list: FieldDetailsList,
                        items: list[Any], path: Path) -> list[Any] | None:
        """The list completed at once, or None where graphql-core must complete it."""
        object_type, items_non_null = unwrap(item_type)
        if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of \
                or any(details.node.directives for details in field_details_list):
            return None  # a type check per item, or @stream
        grouped_field_set, new_defer_usages, _forbidden = self.collect_subfields(
            object_type, field_details_list)
        if new_defer_usages:
            return None
        _plan, readers = self._plan(object_type, grouped_field_set)
        if readers is None:
            fields = self._object_plan(object_type, grouped_field_set)
            if fields is None:
                return None
            return self._objects_with_answers(object_type, fields, items, items_non_null, path)
        completed: list[Any] = []
        for item in items:
            if item is None:
                if items_non_null:
                    return None
                completed.append(None)
                continue
            values: dict[str, Any] = {}
            for name, reader in readers:
                # _read, inlined for the common case: 1,250 fields on a page of 50 patients.
                try:
                    value = reader[0](item)
                except Exception:
                    return None
                if type(value) is not reader[4]:
                    value = output(reader, value)
                    if value is Undefined:
                        return None
                values[name] = value
            completed.append(values)
        return completed

    def _objects_with_answers(self, object_type: GraphQLObjectType,
                              fields: list[ObjectField], items: list[Any],
                              items_non_null: bool, path: Path) -> list[Any] | None:
        """_direct_objects for objects with fields answered at once."""
        arguments: dict[str, dict[str, Any]] = {}
        for name, _reader, at_once in fields:
            if at_once is not None:
                details = at_once[2][0]
                try:  # the same for every item: read once
                    arguments[name] = get_argument_values(
                        at_once[0], details.node, self.variable_values,
                        details.fragment_variable_values, self.hide_suggestions)
                except Exception:
                    return None
        completed: list[Any] = []
        for index, item in enumerate(items):
            if item is None:
                if items_non_null:
                    return None
                completed.append(None)
                continue
            values: dict[str, Any] = {}
            for name, reader, at_once in fields:
                if reader is not None:
                    value = read(reader, item)
                else:
                    assert at_once is not None
                    value = self._answer(object_type, at_once, item,
                                         Path(Path(path, index, None), name, object_type.name),
                                         arguments[name])
                if value is Undefined:
                    return None
                values[name] = value
            completed.append(values)
        return completed

    def _answer(self, object_type: GraphQLObjectType, at_once: AtOnce, item: Any,
                path: Path, arguments: dict[str, Any]) -> Any:
        """The field's completed answer for ``item``, or Undefined where graphql-core must
        take over."""
        field_def, resolve, details, item_type, non_null = at_once
        info = self.build_resolve_info(field_def, [d.node for d in details], object_type, path)
        try:
            result = resolve(item, info, **arguments)
        except Exception:  # graphql-core calls it again and reports it with its path
            return Undefined
        if result is None:
            return Undefined if non_null else None
        if type(result) is not list:
            if iscoroutine(result):
                result.close()  # never awaited: graphql-core calls the resolver again
            return Undefined
        completed = self._direct_objects(item_type, details, result, path)
        return Undefined if completed is None else completed

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        # A plain result: nothing is delivered later (no @defer or @stream work pending),
        # so the executor's helpers are no longer called.
        if isinstance(response, ExecutionResult):
            self.async_helpers = FINISHED
        return response


def _in_order(direct: dict[str, Any], executed: dict[str, Any],
              grouped_field_set: GroupedFieldSet) -> dict[str, Any]:
    # The response keeps the query's field order (the spec's ordered map).
    if not direct:
        return executed
    return {name: (direct[name] if name in direct else executed[name])
            for name in grouped_field_set if name in direct or name in executed}


async def _merged(direct: dict[str, Any], executed: Awaitable[dict[str, Any]],
                  grouped_field_set: GroupedFieldSet) -> dict[str, Any]:
    return _in_order(direct, await executed, grouped_field_set)
