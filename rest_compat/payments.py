"""/api/payments: collections, payouts, reads, listing and refunds (roles billing, admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictInt
from starlette.requests import Request
from starlette.responses import Response

from resolvers.errors import InvalidInput
from resolvers.payments.model import (
    Direction,
    PaymentQuery,
    PaymentRequest,
    PaymentStatus,
    PaymentTransition,
)
from resolvers.payments.stripe_model import Refund
from resolvers.payments.view import PaymentView
from rest_compat.envelope import ok
from rest_compat.models import Strict, page_cursor
from rest_compat.request_context import caller, parse_body, query_int, services
from rest_compat.spec import Operation, QueryParam, api_route

ROLES = ("billing",)
READ_ROLES = ("billing", "integrator")  # resolvers.payments.service.READ_ROLES
Provider = Literal["mpesa", "mtn_momo", "orange_money", "stripe"]


class PaymentBody(Strict):
    provider: Provider
    amount: StrictInt = Field(gt=0, le=10**12, description="Integer amount in minor units "
                                                           "(ISO 4217), e.g. 150000 = KES 1,500")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. KES")
    phone: str | None = Field(default=None, min_length=1, max_length=32,
                              description="Payer (or payee) phone, local or E.164 form")
    reference: str = Field(min_length=1, max_length=64, description="Your reference, e.g. INV-1")
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$",
                                description="ISO 3166 country of the phone; defaults from the "
                                            "provider and currency")
    patient_id: str | None = Field(default=None, min_length=1, max_length=64)
    description: str = Field(default="", max_length=200)

    def to_request(self) -> PaymentRequest:
        return PaymentRequest(provider=self.provider, amount_minor=self.amount,
                              currency=self.currency, phone=self.phone, reference=self.reference,
                              country=self.country, patient_id=self.patient_id,
                              description=self.description)


class PayoutBody(PaymentBody):
    provider: Literal["mpesa", "mtn_momo", "orange_money"]
    phone: str = Field(min_length=1, max_length=32, description="Payee phone")


class TransitionData(BaseModel):
    from_status: str | None
    to_status: str
    reason: str
    source: str
    at: datetime

    @classmethod
    def of(cls, t: PaymentTransition) -> TransitionData:
        return cls(from_status=t.from_status.value if t.from_status else None,
                   to_status=t.to_status.value, reason=t.reason, source=t.source.value, at=t.at)


class RefundData(BaseModel):
    id: str
    payment_id: str
    status: Literal["requested", "pending", "succeeded", "failed", "canceled"] = Field(
        description="requested: recorded, Stripe has not confirmed it (retry with the same "
                    "Idempotency-Key); pending: accepted by Stripe, awaiting its signed events")
    amount: int
    currency: str
    reason: str | None
    stripe_refund_id: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: Refund) -> RefundData:
        return cls(id=r.id, payment_id=r.payment_id, status=r.status.value, amount=r.amount_minor,
                   currency=r.currency, reason=r.reason, stripe_refund_id=r.stripe_refund_id,
                   failure_reason=r.failure_reason, created_at=r.created_at,
                   updated_at=r.updated_at)


class RefundBody(Strict):
    amount: StrictInt | None = Field(default=None, gt=0, le=10**12,
                                     description="Minor units; default: all that is left")
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None


class PaymentData(BaseModel):
    id: str
    status: Literal["created", "pending", "succeeded", "failed", "cancelled", "expired",
                    "refunded"]
    direction: Literal["collection", "payout"]
    provider: str
    amount: int
    currency: str
    reference: str
    description: str
    phone: str | None = Field(description="E.164; the caller's own input, returned as given")
    patient_id: str | None
    provider_reference: str | None
    provider_transaction_id: str | None
    redirect_url: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    refunded_amount: int = Field(description="Refunded so far, in minor units (Stripe; a full "
                                             "refund makes the payment refunded)")
    history: list[TransitionData] | None = None
    refunds: list[RefundData] | None = None

    @classmethod
    def of(cls, view: PaymentView, *, detailed: bool = False) -> PaymentData:
        """``detailed``: with ``history`` and ``refunds`` (the single-payment read)."""
        p = view.payment
        return cls(id=p.id, status=p.status.value, direction=p.direction.value,
                   provider=p.provider, amount=p.amount_minor, currency=p.currency,
                   reference=p.reference, description=p.description, phone=p.phone_e164,
                   patient_id=p.patient_id, provider_reference=p.provider_reference,
                   provider_transaction_id=p.provider_transaction_id, redirect_url=p.redirect_url,
                   failure_reason=p.failure_reason, created_at=p.created_at,
                   updated_at=p.updated_at, expires_at=p.expires_at,
                   refunded_amount=view.refunded_minor,
                   history=[TransitionData.of(t) for t in view.history] if detailed else None,
                   refunds=[RefundData.of(r) for r in view.refunds] if detailed else None)


class PaymentPage(BaseModel):
    items: list[PaymentData]
    next_cursor: str | None


def _created(view: PaymentView) -> Response:
    # 201 for a new payment; 200 when the Idempotency-Key replays an earlier one.
    return ok(PaymentData.of(view), status=200 if view.replayed else 201,
              headers={"Location": f"/api/payments/{view.payment.id}"})


async def create_payment(request: Request) -> Response:
    who = caller(request)
    body = await parse_body(request, PaymentBody)
    view = await services(request).payments.use_cases.initiate(
        who, body.to_request(), request.headers.get("idempotency-key"))
    return _created(view)


async def create_payout(request: Request) -> Response:
    who = caller(request)
    body = await parse_body(request, PayoutBody)
    view = await services(request).payments.use_cases.payout(
        who, body.to_request(), request.headers.get("idempotency-key"))
    return _created(view)


async def get_payment(request: Request) -> Response:
    view = await services(request).payments.use_cases.get(caller(request),
                                                         request.path_params["payment_id"])
    return ok(PaymentData.of(view, detailed=True))


def _enum(name: str, raw: str | None, kind: type[PaymentStatus] | type[Direction]) -> object:
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be one of {', '.join(k.value for k in kind)}",
                           details=[{"field": name, "message": "unknown value"}]) from None


async def list_payments(request: Request) -> Response:
    who = caller(request)
    p = request.query_params
    limit = query_int(request, "limit", 50)
    status = _enum("status", p.get("status"), PaymentStatus)
    direction = _enum("direction", p.get("direction"), Direction)
    found = await services(request).payments.use_cases.search(who, PaymentQuery(
        provider=p.get("provider") or None,
        status=status if isinstance(status, PaymentStatus) else None,
        direction=direction if isinstance(direction, Direction) else None,
        patient_ids=(p["patient_id"],) if p.get("patient_id") else None,
        reference=p.get("reference") or None, after=p.get("cursor") or None, limit=limit))
    return ok(PaymentPage(items=[PaymentData.of(v) for v in found],
                          next_cursor=page_cursor([v.payment for v in found], limit)))


async def refund_payment(request: Request) -> Response:
    who = caller(request)
    body = await parse_body(request, RefundBody, when_empty=RefundBody())
    view = await services(request).payments.use_cases.refund(
        who, request.path_params["payment_id"], body.amount, body.reason,
        request.headers.get("idempotency-key"))
    return ok(RefundData.of(view.refund), status=200 if view.replayed else 201)


_ID = QueryParam("payment_id", "Payment id", location="path", required=True)
_KEY = QueryParam("Idempotency-Key", "Required. The same key with the same body answers the "
                  "first payment (200) without calling the provider again; with another body, "
                  "409", {"type": "string", "minLength": 1, "maxLength": 255}, required=True,
                  location="header")
_REFUND_KEY = QueryParam("Idempotency-Key", "Required for Stripe refunds. The same key and body "
                        "answer the recorded refund (200); Stripe gets the same idempotency "
                        "key on every retry, so it refunds once",
                        {"type": "string", "minLength": 1, "maxLength": 255}, required=True,
                        location="header")
_CREATE_ERRORS = (400, 409, 413, 415, 422)


def _create_responses(schema: str = "PaymentData") -> dict[str, object]:
    data = {"application/json": {"schema": {
        "type": "object", "required": ["success", "data"],
        "properties": {"success": {"type": "boolean", "enum": [True]},
                       "data": {"$ref": f"#/components/schemas/{schema}"}}}}}
    return {"201": {"description": "Created: the payment, as the provider left it",
                    "content": data, "headers": {"Location": {"schema": {"type": "string"}}}},
            "200": {"description": "Idempotent replay: the payment this key created before",
                    "content": data, "headers": {"Location": {"schema": {"type": "string"}}}}}

operations: list[Operation] = [
    api_route("POST", "/api/payments", create_payment,
              summary="Start a collection (M-Pesa STK push, MoMo request-to-pay, Orange web "
                      "payment) or register a Stripe payment", tag="payments", roles=ROLES,
              request_model=PaymentBody, response_model=PaymentData, success_status=201,
              request_headers=(_KEY,), error_statuses=_CREATE_ERRORS,
              raw_responses=_create_responses()),
    api_route("GET", "/api/payments", list_payments, summary="List payments, newest first",
              tag="payments", roles=READ_ROLES, response_model=PaymentPage, error_statuses=(422,),
              params=(QueryParam("provider", "mpesa, mtn_momo, orange_money or stripe"),
                      QueryParam("status", "created, pending, succeeded, failed, cancelled, "
                                           "expired or refunded"),
                      QueryParam("direction", "collection or payout"),
                      QueryParam("patient_id", "Only this patient's payments"),
                      QueryParam("reference", "Your reference"),
                      QueryParam("cursor", "next_cursor of the previous page"),
                      QueryParam("limit", "Page size", {"type": "integer", "minimum": 1,
                                                        "maximum": 200}))),
    api_route("POST", "/api/payments/payouts", create_payout,
              summary="Send money to a phone (M-Pesa B2C, MoMo disbursement)", tag="payments",
              roles=ROLES, request_model=PayoutBody, response_model=PaymentData,
              success_status=201, request_headers=(_KEY,), error_statuses=_CREATE_ERRORS,
              raw_responses=_create_responses()),
    api_route("GET", "/api/payments/{payment_id}", get_payment,
              summary="Read a payment with its history of transitions", tag="payments",
              roles=READ_ROLES, response_model=PaymentData, params=(_ID,), error_statuses=(404,)),
    api_route("POST", "/api/payments/{payment_id}/refund", refund_payment,
              summary="Refund a succeeded Stripe payment through Stripe (all or part; mobile "
                      "money: 422). 201: recorded and accepted by Stripe (pending); its signed "
                      "events complete it. 502/503: Stripe did not confirm; retry with the same "
                      "Idempotency-Key", tag="payments", roles=ROLES, request_model=RefundBody,
              response_model=RefundData, success_status=201, params=(_ID,),
              request_headers=(_REFUND_KEY,), raw_responses=_create_responses("RefundData"),
              error_statuses=(400, 404, 409, 413, 415, 422, 502, 503)),
]
