"""Page sizes of list fields: one rule for every ``first`` argument.

A negative page size is a client error, answered as such, never handed to a use case or to
SQL; sizes above the maximum are served as the maximum (the documented behaviour).
"""

from graphql import GraphQLError

MAX_PAGE = 200


def page_size(first: int, *, argument: str = "first") -> int:
    if first < 0:
        raise GraphQLError(f"{argument} must be 0 or more (at most {MAX_PAGE} are returned)",
                           extensions={"code": "BAD_USER_INPUT"})
    return max(1, min(first, MAX_PAGE))
