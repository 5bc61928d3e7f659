"""The gateway's input rule for string literals written into a GraphQL document.

Variables arrive in the JSON body (or the GET query string) and are checked when it is
decoded (``CariGraphQL.decode_json``); a literal such as ``family: "a\\u0000b"`` is decoded by
the GraphQL parser instead, so this validation rule checks it: a NUL or a lone surrogate was
stored on SQLite and a 500 on PostgreSQL. It depends only on the document, so the validation
cache may keep its verdict.
"""

from __future__ import annotations

from typing import Any

from graphql import ASTValidationRule, GraphQLError, StringValueNode

from resolvers.input_rules import text_problem


class StringLiteralRule(ASTValidationRule):
    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        problem = text_problem(node.value)
        if problem:
            self.report_error(GraphQLError(f"a string argument {problem}", node))
