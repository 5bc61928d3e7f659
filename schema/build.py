"""The federation schema, its limits and error masking."""

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    max_aliases,
    query_depth_limiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.crossborder import CrossBorderQuery
from schema.error_log import LoggedSchema, is_expected
from schema.execution import CollectableExecutionContext
from schema.fast_resolvers import install_reduced_resolvers
from schema.fhir_queries import FhirMutation, FhirQuery
from schema.imaging import ImagingMutation, ImagingQuery
from schema.input_rule import StringLiteralRule
from schema.lab_alert_subscription import LabSubscription
from schema.labs import LabMutation, LabQuery
from schema.limits import cost_limit_rule
from schema.messaging import MessagingMutation, MessagingQuery
from schema.mpi_review import ReviewMutation, ReviewQuery
from schema.mutations import Mutation
from schema.payments import PaymentMutation, PaymentQueryRoot
from schema.public_health import PublicHealthMutation, PublicHealthQuery
from schema.queries import Query
from schema.smart import SmartMutation, SmartQuery
from schema.stripe import StripeQuery
from schema.validation_cache import TextValidationCache, ValidationResults
from schema.webhook_endpoints import WebhookEndpointMutation, WebhookEndpointQuery
from schema.webhooks import WebhookMutation, WebhookQuery

MAX_TOKENS = 5000
MAX_ALIASES = 30
CACHE_SIZE = 512


def _should_mask(error: GraphQLError) -> bool:
    """Mask unexpected failures; keep validation, permission and domain messages.

    The schema's ``process_errors`` has logged the error already (schema/error_log.py)."""
    return not is_expected(error)


class FastMaskErrors(MaskErrors):
    """MaskErrors without its runtime Protocol check: ``isinstance`` against a
    ``runtime_checkable`` Protocol walks the protocol's attributes on every call, a fortieth
    of a small GraphQL read. Every result it is given has ``errors`` or nothing to mask."""

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


def build_schema(*, max_depth: int, max_cost: int) -> strawberry.federation.Schema:
    rules: list[type[ASTValidationRule]] = [
        query_depth_limiter.create_validator(max_depth, None, None),
        max_aliases.create_validator(MAX_ALIASES),
        cost_limit_rule(max_cost),
        StringLiteralRule,
    ]
    validated = ValidationResults(CACHE_SIZE)  # this schema's rules: a cache of its own
    schema = LoggedSchema(
        query=merge_types("Query", (Query, FhirQuery, LabQuery, ReviewQuery, WebhookQuery,
                                       PaymentQueryRoot, StripeQuery, CrossBorderQuery,
                                       SmartQuery, PublicHealthQuery, ImagingQuery,
                                       WebhookEndpointQuery, MessagingQuery)),
        mutation=merge_types("Mutation", (Mutation, FhirMutation, LabMutation, ReviewMutation,
                                             WebhookMutation,
                                             PaymentMutation, SmartMutation,
                                             PublicHealthMutation, ImagingMutation,
                                             WebhookEndpointMutation, MessagingMutation)),
        subscription=LabSubscription,
        federation_version="2.7",
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=CollectableExecutionContext,
        extensions=[
            # Factories: Strawberry builds a fresh extension for every request. The rule
            # classes are built once so the validation cache can recognise them; parsing and
            # validating a repeated query text then cost nothing (about half the CPU of a
            # small query otherwise). None of the rules depends on variables.
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: ParserCache(maxsize=CACHE_SIZE),
            lambda: AddValidationRules(rules),
            lambda: TextValidationCache(validated),
            lambda: FastMaskErrors(should_mask_error=_should_mask,
                                   error_message="Unexpected error; quote the request id to support."),
        ],
    )
    install_reduced_resolvers(schema)  # resolvers with nothing in Strawberry's chain to do
    return schema
