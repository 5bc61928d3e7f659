"""Query cost limit: list fields multiply the cost of what they select by their page size.

Every page size counts as at least 1 and at most ``MAX_PAGE``, so each field adds a positive
amount and adding a field can never lower a query's cost. A negative literal page size is
refused here; one passed in a variable is refused by the field (schema/paging.py).
"""

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)

from schema.paging import MAX_PAGE

DEFAULT_PAGE = 50
PAGE_ARGUMENTS = ("first", "limit", "count")


def _literal(value: IntValueNode) -> int | None:
    try:
        return int(value.value)
    except ValueError:  # more digits than int() accepts: certainly not a valid Int
        return None


def _clamp(size: int | None) -> int:
    return MAX_PAGE if size is None else max(1, min(size, MAX_PAGE))


def _page_size(field: FieldNode, variables: dict[str, Any]) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value in PAGE_ARGUMENTS:
            if isinstance(arg.value, IntValueNode):
                return _clamp(_literal(arg.value))
            if isinstance(arg.value, VariableNode):
                value = variables.get(arg.value.name.value)
                return _clamp(value if isinstance(value, int) else None)
            return MAX_PAGE  # null or a value of the wrong type: count the worst case
    return None


def _negative_page_arguments(node: FieldNode) -> list[str]:
    return [arg.name.value for arg in node.arguments or ()
            if arg.name.value in PAGE_ARGUMENTS and isinstance(arg.value, IntValueNode)
            and (_literal(arg.value) or 0) < 0]


def _cost(selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode],
          variables: dict[str, Any], seen: frozenset[str]) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            inner = _cost(selection.selection_set, fragments, variables, seen)
            if selection.selection_set is None:
                total += 1
                continue
            size = _page_size(selection, variables)
            # A field that pages multiplies what it selects; a plain object field adds it.
            total += 1 + inner * (size if size is not None else 1)
            if size is None and selection.name.value.endswith("s") and selection.arguments:
                total += inner * (DEFAULT_PAGE - 1)
        elif isinstance(selection, InlineFragmentNode):
            total += _cost(selection.selection_set, fragments, variables, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in seen or name not in fragments:
                continue
            total += _cost(fragments[name].selection_set, fragments, variables, seen | {name})
    return total


def cost_limit_rule(max_cost: int, variables_of: Any = None) -> type[ValidationRule]:
    class CostLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self._fragments = {
                d.name.value: d for d in context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            for name in _negative_page_arguments(node):
                self.report_error(GraphQLError(
                    f"{name} must be 0 or more (at most {MAX_PAGE} are returned)", node,
                    extensions={"code": "BAD_USER_INPUT"}))

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            cost = _cost(node.selection_set, self._fragments, {}, frozenset())
            if cost > max_cost:
                self.report_error(GraphQLError(
                    f"query cost {cost} exceeds the limit of {max_cost}; ask for fewer items "
                    "per page or fewer nested lists", node,
                    extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": max_cost}))

    return CostLimit
