"""Resolvers called without Strawberry's per-call wrapping where it has nothing to do.

Strawberry resolves a field with a resolver through a chain built at schema time: a
Strawberry ``Info``, the arguments converted to Python (``get_arguments``), the field's
extensions folded in with ``functools.reduce``/``partial``, exception handlers, and then
the resolver. For a field with no extension (no permission classes), no exception handler
and only built-in scalar arguments, all of that reduces to: rename the arguments to their
Python names, add ``info``/``root``/``self`` where the resolver asks for them, and call
it. ``Patient.labResults`` on a page of 50 patients went through the whole chain 50
times, about a tenth of the page's CPU.

Fields guarded by permission classes qualify too when every class answers a yes cheaply
and without side effects (``grants(info)``: schema/permissions.py's role checks). The
reduced resolver asks each; when all grant, the resolver is called at once. Otherwise the
field goes through Strawberry's own chain, which asks ``has_permission`` again and refuses
as it always has (its audit row, its error). Strawberry's PermissionExtension, with its
argument conversion and the resolver wrapped in a coroutine, was about a tenth of a
GraphQL patient read.

Installed once, after the schema is built: each such field's graphql-core resolver is
replaced by the reduced one. Everything else keeps Strawberry's own (tests compare the
two on the same queries: tests/unit/test_fast_resolvers.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo
from strawberry.permission import PermissionExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.field import StrawberryField

# Argument types graphql-core hands over already as their Python values: Strawberry's
# convert_argument returns them unchanged.
_PLAIN = (int, str, float, bool, strawberry.ID)

Resolver = Callable[..., Any]


def _plain_argument(type_: Any) -> bool:
    if isinstance(type_, StrawberryMaybe):
        return False  # wrapped in Some(...) by Strawberry
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    return any(type_ is plain for plain in _PLAIN)


# A permission's cheap check: True only where its has_permission would grant, with no
# side effect (a refusal's audit row is has_permission's to write).
Grant = Callable[[GraphQLResolveInfo[Any]], bool]


def _grants(field: StrawberryField) -> list[Grant] | None:
    """The cheap checks of the field's permissions ([] for none), or None where its
    extensions do more than checks that all have one."""
    if not field.extensions:
        return []
    if len(field.extensions) != 1:
        return None
    extension = field.extensions[0]
    if type(extension) is not PermissionExtension or extension.fail_silently:
        return None
    grants = [getattr(permission, "grants", None) for permission in extension.permissions]
    if not grants or any(not callable(grant) for grant in grants):
        return None
    return grants  # type: ignore[return-value]


def reduced_resolver(field: StrawberryField, converter: GraphQLCoreConverter,
                     handlers: tuple[Any, ...],
                     strawberry_resolver: Resolver | None = None) -> Resolver | None:
    """The field's resolver without the wrapping, or None where the wrapping does work.
    ``strawberry_resolver``: the field's resolver as Strawberry built it, which a field
    with permissions needs for the callers they do not grant at once."""
    resolver = field.base_resolver
    grants = _grants(field)
    if resolver is None or grants is None or handlers or field.is_subscription \
            or not callable(resolver.wrapped_func):
        return None
    if grants and strawberry_resolver is None:
        return None
    if not all(_plain_argument(argument.type) for argument in field.arguments):
        return None
    to_python = {converter.config.name_converter.from_argument(argument): argument.python_name
                 for argument in field.arguments}
    if any(name is None for name in to_python.values()):
        return None
    call = resolver.wrapped_func
    info_class = converter.config.info_class
    pass_self = resolver.self_parameter is not None
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    source_names = [p.name for p in (resolver.parent_parameter, resolver.root_parameter)
                    if p is not None]

    def resolve(source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        kwargs = {to_python[name]: value for name, value in arguments.items()}
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=info, _field=field)
        for name in source_names:
            kwargs[name] = source
        return call(source, **kwargs) if pass_self else call(**kwargs)

    if not grants:
        return resolve
    assert strawberry_resolver is not None
    fallback = strawberry_resolver

    def guarded(source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        for grant in grants:
            if not grant(info):  # refused, audited and reported by Strawberry's chain
                return fallback(source, info, **arguments)
        return resolve(source, info, **arguments)

    return guarded


def install_reduced_resolvers(schema: strawberry.Schema) -> int:
    """Replace the resolver of every field that qualifies; returns how many were."""
    converter = schema.schema_converter
    handlers_of = getattr(converter, "_get_field_exception_handlers", None)
    if handlers_of is None:  # a Strawberry without it: keep every resolver as it is
        return 0
    replaced = 0
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or \
                graphql_type.name.startswith("__"):
            continue
        for field_def in graphql_type.fields.values():
            field = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if not isinstance(field, StrawberryField):
                continue
            reduced = reduced_resolver(field, converter, tuple(handlers_of(field)),
                                       field_def.resolve)
            if reduced is not None:
                field_def.resolve = reduced
                replaced += 1
    return replaced
