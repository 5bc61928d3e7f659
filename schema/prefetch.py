"""What a list field's selection asks of each of its items, read before the items exist.

``patients`` reads its page's laboratory results in the same resolver when the selection
asks ``nodes { labResults(first: N) }``: the results are then ready as each Patient's
``labResults`` is executed, which answers them at once. Loaded per patient instead, each
of the 50 fields of a page waited on the DataLoader: 50 awaitables completed through the
executor's asynchronous path, 50 tasks gathered, about half the page's CPU.
Fragments are not looked into: a selection that reaches labResults through one loads them
per patient, as before, with the same answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, GraphQLObjectType
from graphql.execution.values import VariableValues, get_argument_values

from schema.graphql_context import Info
from schema.paging import page_size

DEFAULT_FIRST = 50  # Patient.labResults' own default


def _children(nodes: list[FieldNode], name: str) -> Iterator[FieldNode]:
    for node in nodes:
        if node.selection_set is None:
            continue
        for selection in node.selection_set.selections:
            if isinstance(selection, FieldNode) and selection.name.value == name \
                    and not selection.directives:  # @skip/@include: leave it to execution
                yield selection


def selected_arguments(info: Info, path: tuple[str, ...], type_name: str,
                       field_name: str) -> list[dict[str, Any]]:
    """The arguments (coerced, variables applied, defaults filled) of each ``field_name``
    selected on ``type_name`` under ``path`` from this field, e.g. ``("nodes",)``."""
    raw = info._raw_info
    nodes: list[FieldNode] = list(raw.field_nodes)
    for name in path:
        nodes = list(_children(nodes, name))
    found = list(_children(nodes, field_name))
    if not found:
        return []
    owner = raw.schema.get_type(type_name)
    if not isinstance(owner, GraphQLObjectType) or field_name not in owner.fields:
        return []
    field_def = owner.fields[field_name]
    # graphql-core's resolve info holds the coerced values alone (a dict); its executor's
    # VariableValues also records where each came from, which only replacing variables in
    # literals uses.
    values: Any = raw.variable_values
    variables = values if isinstance(values, VariableValues) else \
        VariableValues(sources={}, coerced=values)
    return [get_argument_values(field_def, node, variables) for node in found]


async def read_lab_results_ahead(info: Info, patient_ids: list[str]) -> None:
    """Each page patient's ``labResults(first:)``, when the selection asks for them, read in
    one DataLoader batch (one search, one audit record per patient, as loaded per patient)
    and left in ``loaders.lab_results_ready``."""
    if not patient_ids:
        return
    firsts = dict.fromkeys(page_size(int(args.get("first", DEFAULT_FIRST))) for args in
                           selected_arguments(info, ("nodes",), "Patient", "labResults"))
    if not firsts:
        return
    loaders = info.context.loaders
    keys = [(patient_id, first) for first in firsts for patient_id in patient_ids]
    try:
        found = await loaders.lab_results.load_many(keys)
    except Exception:
        # The DataLoader keeps the failed keys: every patient's labResults raises the same
        # error, located at its own path, as when loaded per patient.
        return
    loaders.lab_results_ready.update(zip(keys, found, strict=True))
