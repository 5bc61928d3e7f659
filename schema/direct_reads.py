"""Fields read directly: how a scalar field (or list of scalars) is read from its source
object and coerced, without graphql-core's per-field path (schema/execution.py)."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLString,
    is_leaf_type,
)
from graphql.pyutils import Undefined
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# How a directly read field is read: the function reading it from its source object, its
# scalar (or enum) type, whether the field is non-null, for a list of scalars whether its
# items are non-null (None: not a list), and the Python type a value of which is its own
# output (str for String and ID; _NO_TYPE where every value is coerced).
Reader = tuple[Callable[[Any], Any], GraphQLLeafType, bool, bool | None, type]


def unwrap(of_type: GraphQLOutputType) -> tuple[GraphQLOutputType, bool]:
    if isinstance(of_type, GraphQLNonNull):
        return of_type.of_type, True
    return of_type, False


def _leaf(return_type: GraphQLOutputType) -> tuple[GraphQLLeafType, bool, bool | None] | None:
    """A scalar, or a list of scalars: (scalar type, non-null, items non-null or None)."""
    inner, non_null = unwrap(return_type)
    if is_leaf_type(inner):
        return inner, non_null, None
    if isinstance(inner, GraphQLList):
        item, items_non_null = unwrap(inner.of_type)
        if is_leaf_type(item):
            return item, non_null, items_non_null
    return None


class _NoType:
    """No value is of this type: a reader without an unchanged output type."""


_NO_TYPE = _NoType


def _unchanged_type(leaf_type: GraphQLLeafType, items_non_null: bool | None) -> type:
    # graphql-core's String and ID give a str back unchanged (their serializers' first
    # case); a value of this type is then its own output and skips the coercion call.
    if items_non_null is None and (leaf_type is GraphQLString or leaf_type is GraphQLID):
        return str
    return _NO_TYPE


def field_reader(field_def: GraphQLField) -> Reader | None:
    """How the field is read directly, or None where graphql-core executes it."""
    resolve = field_def.resolve
    # Strawberry marks the resolver of a field without resolver or extension.
    if field_def.args or resolve is None or not getattr(resolve, "_is_default", False):
        return None
    leaf = _leaf(field_def.type)
    if leaf is None:
        return None
    leaf_type, non_null, items_non_null = leaf
    return (_read_function(field_def.extensions, resolve), leaf_type, non_null,
            items_non_null, _unchanged_type(leaf_type, items_non_null))


def _read_function(extensions: dict[str, Any],
                   resolve: Callable[..., Any]) -> Callable[[Any], Any]:
    field = extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    # What StrawberryField.get_result does for a field without resolver, in C.
    if isinstance(field, StrawberryField) and field.base_resolver is None \
            and field.default_resolver is getattr:
        return attrgetter(field.python_name)
    return lambda source: resolve(source, None)


def read(reader: Reader, source: Any) -> Any:
    """The field's output value, or Undefined where graphql-core must take over."""
    try:
        value = reader[0](source)
    except Exception:  # graphql-core's own path reports it, located and with its path
        return Undefined
    if type(value) is reader[4]:
        return value
    return output(reader, value)


def output(reader: Reader, value: Any) -> Any:
    """The output of a value read for the field, or Undefined where graphql-core must take
    over."""
    _read_value, leaf_type, non_null, items_non_null, _unchanged = reader
    try:
        if value is None:
            return Undefined if non_null else None
        if items_non_null is None:
            return _coerced(leaf_type, value)
        if not isinstance(value, list | tuple):
            return Undefined  # other iterables, and refusals, as graphql-core does them
        items = [None if item is None else _coerced(leaf_type, item) for item in value]
    except Exception:  # graphql-core's own path reports it, located and with its path
        return Undefined
    if any(item is Undefined or (item is None and items_non_null) for item in items):
        return Undefined
    return items


def _coerced(leaf_type: GraphQLLeafType, value: Any) -> Any:
    if isinstance(value, Exception):
        return Undefined
    coerced = leaf_type.coerce_output_value(value)
    return Undefined if coerced is None else coerced
