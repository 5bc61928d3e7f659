"""/api/payments/subscriptions: Stripe subscriptions as their newest events left them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from resolvers.payments.stripe_model import StripeSubscription, SubscriptionQuery
from rest_compat.envelope import ok
from rest_compat.models import page_cursor
from rest_compat.request_context import caller, query_int, services
from rest_compat.spec import Operation, QueryParam, api_route


class SubscriptionData(BaseModel):
    id: str
    customer_id: str | None
    status: str
    price_id: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    patient_id: str | None
    last_event_type: str
    last_event_created: int
    updated_at: datetime

    @classmethod
    def of(cls, s: StripeSubscription) -> SubscriptionData:
        return cls(id=s.id, customer_id=s.customer_id, status=s.status, price_id=s.price_id,
                   current_period_end=s.current_period_end,
                   cancel_at_period_end=s.cancel_at_period_end, patient_id=s.patient_id,
                   last_event_type=s.last_event_type, last_event_created=s.last_event_created,
                   updated_at=s.updated_at)


class SubscriptionPage(BaseModel):
    items: list[SubscriptionData]
    next_cursor: str | None


async def list_subscriptions(request: Request) -> Response:
    who = caller(request)
    p = request.query_params
    limit = query_int(request, "limit", 50)
    found = await services(request).payments.subscriptions.search(who, SubscriptionQuery(
        status=p.get("status") or None, patient_id=p.get("patient_id") or None,
        after=p.get("cursor") or None, limit=limit))
    return ok(SubscriptionPage(items=[SubscriptionData.of(s) for s in found],
                               next_cursor=page_cursor(found, limit)))


operations: list[Operation] = [
    api_route("GET", "/api/payments/subscriptions", list_subscriptions,
              summary="List Stripe subscriptions (kept from customer.subscription.* events; "
                      "the newest event wins), by subscription id", tag="payments",
              roles=("billing",), response_model=SubscriptionPage, error_statuses=(422,),
              params=(QueryParam("status", "Stripe's status, e.g. active, past_due, canceled"),
                      QueryParam("patient_id", "Only this patient's subscriptions"),
                      QueryParam("cursor", "next_cursor of the previous page"),
                      QueryParam("limit", "Page size", {"type": "integer", "minimum": 1,
                                                        "maximum": 200}))),
]
