"""The federation schema, its limits and error masking."""

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig

from resolvers.errors import DomainError
from schema.limits import cost_limit_rule
from schema.mutations import Mutation
from schema.queries import Query

log = logging.getLogger("cari.graphql")
MAX_TOKENS = 5000
MAX_ALIASES = 30


def _should_mask(error: GraphQLError) -> bool:
    """Mask unexpected failures; keep validation, permission and domain messages."""
    original = error.original_error
    if original is None:
        return False
    if isinstance(original, (DomainError, PermissionError)) or type(original).__name__ in (
        "PermissionError",
    ):
        return False
    if isinstance(original, GraphQLError):
        return False
    log.error("unexpected GraphQL resolver error", exc_info=original)
    return True


def build_schema(*, max_depth: int, max_cost: int) -> strawberry.federation.Schema:
    cost_rule = cost_limit_rule(max_cost)
    return strawberry.federation.Schema(
        query=Query,
        mutation=Mutation,
        federation_version="2.7",
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            # Factories: Strawberry builds a fresh extension for every request.
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: AddValidationRules([cost_rule]),
            lambda: MaskErrors(should_mask_error=_should_mask,
                               error_message="Unexpected error; quote the request id to support."),
        ],
    )
