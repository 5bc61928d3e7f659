"""Payments over GraphQL: Payment (with history), payments, payment(id), initiatePayment.

``Patient.payments`` (schema/types.py) is batched through a per-request DataLoader.
"""

import datetime
from typing import Annotated

import strawberry

from resolvers.errors import DomainError, NotFound
from resolvers.payments.model import PaymentQuery, PaymentRequest, PaymentStatus
from resolvers.payments.model import PaymentTransition as TransitionModel
from resolvers.payments.view import PaymentView
from resolvers.principal import Role
from schema.errors import ConflictError, ForbiddenError, ValidationError, to_user_error
from schema.graphql_context import Info
from schema.paging import page_size
from schema.permissions import has_role
from schema.types import PageInfo, page_info

PaymentStatusEnum = strawberry.enum(PaymentStatus, name="PaymentStatus")


@strawberry.type
class PaymentTransition:
    from_status: str | None
    to_status: str
    reason: str
    source: str
    at: datetime.datetime

    @classmethod
    def of(cls, t: TransitionModel) -> "PaymentTransition":
        return cls(from_status=t.from_status.value if t.from_status else None,
                   to_status=t.to_status.value, reason=t.reason, source=t.source.value, at=t.at)


@strawberry.type
class Payment:
    id: strawberry.ID
    status: PaymentStatusEnum  # type: ignore[valid-type]
    direction: str
    provider: str
    amount: int = strawberry.field(description="Integer amount in ISO 4217 minor units")
    currency: str
    reference: str
    description: str
    phone: str | None
    patient_id: strawberry.ID | None
    provider_reference: str | None
    provider_transaction_id: str | None
    redirect_url: str | None
    failure_reason: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    expires_at: datetime.datetime
    refunded_amount: int = strawberry.field(
        description="Refunded so far in minor units, as Stripe reports it")

    @strawberry.field(description="Every status change, oldest first")
    async def history(self, info: Info) -> list[PaymentTransition]:
        found = await info.context.loaders.payment_history.load(str(self.id))
        return [PaymentTransition.of(t) for t in found]

    @classmethod
    def of(cls, view: PaymentView) -> "Payment":
        p = view.payment
        return cls(id=strawberry.ID(p.id), status=p.status, direction=p.direction.value,
                   provider=p.provider, amount=p.amount_minor, currency=p.currency,
                   reference=p.reference, description=p.description, phone=p.phone_e164,
                   patient_id=strawberry.ID(p.patient_id) if p.patient_id else None,
                   provider_reference=p.provider_reference,
                   provider_transaction_id=p.provider_transaction_id,
                   redirect_url=p.redirect_url, failure_reason=p.failure_reason,
                   created_at=p.created_at, updated_at=p.updated_at, expires_at=p.expires_at,
                   refunded_amount=view.refunded_minor)


@strawberry.type
class PaymentConnection:
    nodes: list[Payment]
    page_info: PageInfo


@strawberry.input
class PaymentInput:
    provider: str = strawberry.field(description="mpesa, mtn_momo, orange_money or stripe")
    amount: int = strawberry.field(description="Integer amount in minor units")
    currency: str
    reference: str
    phone: str | None = None
    country: str | None = None
    patient_id: strawberry.ID | None = None
    description: str = ""

    def to_request(self) -> PaymentRequest:
        return PaymentRequest(provider=self.provider, amount_minor=self.amount,
                              currency=self.currency, phone=self.phone, reference=self.reference,
                              country=self.country,
                              patient_id=str(self.patient_id) if self.patient_id else None,
                              description=self.description)


InitiatePaymentResult = Annotated[
    Payment | ValidationError | ConflictError | ForbiddenError,
    strawberry.union("InitiatePaymentResult"),
]


@strawberry.type
class PaymentQueryRoot:
    @strawberry.field(permission_classes=[has_role(Role.BILLING, Role.INTEGRATOR)])
    async def payment(self, info: Info, id: strawberry.ID) -> Payment | None:
        try:
            view = await info.context.services.payments.use_cases.get(info.context.caller,
                                                                      str(id))
        except NotFound:
            return None
        info.context.loaders.payment_history.prime(view.payment.id, list(view.history))
        return Payment.of(view)

    @strawberry.field(permission_classes=[has_role(Role.BILLING, Role.INTEGRATOR)])
    async def payments(self, info: Info, first: int = 50, after: str | None = None,
                       provider: str | None = None,
                       status: PaymentStatusEnum | None = None,  # type: ignore[valid-type]
                       patient_id: strawberry.ID | None = None,
                       reference: str | None = None) -> PaymentConnection:
        limit = page_size(first)
        found = await info.context.services.payments.use_cases.search(
            info.context.caller, PaymentQuery(
                provider=provider, status=PaymentStatus(status) if status else None,
                patient_ids=(str(patient_id),) if patient_id else None, reference=reference,
                after=after, limit=limit))
        return PaymentConnection(nodes=[Payment.of(v) for v in found],
                                 page_info=page_info(list(found), limit,
                                                     found[-1].payment.id if found else None))


@strawberry.type
class PaymentMutation:
    @strawberry.mutation(description="Start a collection; the same idempotencyKey with the same "
                                     "input answers the first payment without a second "
                                     "provider call")
    async def initiate_payment(self, info: Info, input: PaymentInput,
                               idempotency_key: str) -> InitiatePaymentResult:
        ctx = info.context
        try:
            view = await ctx.services.payments.use_cases.initiate(
                ctx.caller, input.to_request(), idempotency_key)
        except DomainError as exc:
            return to_user_error(exc)  # type: ignore[return-value]
        return Payment.of(view)
