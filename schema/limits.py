"""Query cost limit: list fields multiply the cost of what they select by their page size."""

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

DEFAULT_PAGE = 50
MAX_PAGE = 200
PAGE_ARGUMENTS = ("first", "limit")


def _page_size(field: FieldNode, variables: dict[str, Any]) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value in PAGE_ARGUMENTS:
            if isinstance(arg.value, IntValueNode):
                return min(int(arg.value.value), MAX_PAGE)
            if isinstance(arg.value, VariableNode):
                value = variables.get(arg.value.name.value)
                return min(int(value), MAX_PAGE) if isinstance(value, int) else MAX_PAGE
    return None


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

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            cost = _cost(node.selection_set, self._fragments, {}, frozenset())
            if cost > max_cost:
                self.report_error(GraphQLError(
                    f"query cost {cost} exceeds the limit of {max_cost}; ask for fewer items "
                    "per page or fewer nested lists", node,
                    extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": max_cost}))

    return CostLimit
