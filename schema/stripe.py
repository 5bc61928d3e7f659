"""Stripe subscriptions over GraphQL: ``stripeSubscriptions`` (roles billing, admin)."""

import datetime

import strawberry

from resolvers.payments.stripe_model import StripeSubscription as SubscriptionModel
from resolvers.payments.stripe_model import SubscriptionQuery
from resolvers.principal import Role
from schema.graphql_context import Info
from schema.paging import page_size
from schema.permissions import has_role
from schema.types import PageInfo, page_info


@strawberry.type(description="A Stripe subscription as its newest customer.subscription.* "
                             "event left it")
class StripeSubscription:
    id: strawberry.ID
    customer_id: str | None
    status: str
    price_id: str | None
    current_period_end: datetime.datetime | None
    cancel_at_period_end: bool
    patient_id: strawberry.ID | None
    last_event_type: str
    last_event_created: int
    updated_at: datetime.datetime

    @classmethod
    def of(cls, s: SubscriptionModel) -> "StripeSubscription":
        return cls(id=strawberry.ID(s.id), customer_id=s.customer_id, status=s.status,
                   price_id=s.price_id, current_period_end=s.current_period_end,
                   cancel_at_period_end=s.cancel_at_period_end,
                   patient_id=strawberry.ID(s.patient_id) if s.patient_id else None,
                   last_event_type=s.last_event_type, last_event_created=s.last_event_created,
                   updated_at=s.updated_at)


@strawberry.type
class StripeSubscriptionConnection:
    nodes: list[StripeSubscription]
    page_info: PageInfo


@strawberry.type
class StripeQuery:
    @strawberry.field(permission_classes=[has_role(Role.BILLING)])
    async def stripe_subscriptions(self, info: Info, first: int = 50, after: str | None = None,
                                   status: str | None = None,
                                   patient_id: strawberry.ID | None = None
                                   ) -> StripeSubscriptionConnection:
        limit = page_size(first)
        found = await info.context.services.payments.subscriptions.search(
            info.context.caller, SubscriptionQuery(
                status=status, patient_id=str(patient_id) if patient_id else None, after=after,
                limit=limit))
        return StripeSubscriptionConnection(
            nodes=[StripeSubscription.of(s) for s in found],
            page_info=page_info(list(found), limit, found[-1].id if found else None))
