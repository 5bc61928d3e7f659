"""Payment use cases both surfaces call: initiate, payout, read, list, refund.

Roles ``billing`` and ``admin``. A payment that names a patient is patient data: every read
or write of one is audited with that patient's id. Every payment they answer is a
:class:`~resolvers.payments.view.PaymentView`, so REST and GraphQL render the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from resolvers.audit.access import patients_or_none
from resolvers.audit.model import AuditAction, AuditOutcome, AuditRecord
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.clock import Clock
from resolvers.errors import Forbidden, NotFound
from resolvers.payments.config import PaymentConfig, ProviderDirectory
from resolvers.payments.initiate import PaymentInitiation
from resolvers.payments.model import (
    Direction,
    Payment,
    PaymentQuery,
    PaymentRequest,
    PaymentTransition,
)
from resolvers.payments.refunds import RefundView, StripeRefunds
from resolvers.payments.repository import PaymentsUnitOfWorkFactory
from resolvers.payments.settle import Settler
from resolvers.payments.stripe_model import StripeStore
from resolvers.payments.view import PaymentView, payment_view
from resolvers.principal import Caller, Role, require_role

ROLES = (Role.BILLING,)
# Reading payments: also integrators, who operate the gateway and see all its traffic (issue
# 17: "admin and integrator see everything"); only billing starts payments and refunds.
READ_ROLES = (Role.BILLING, Role.INTEGRATOR)
MAX_PAGE = 200
RESOURCE = "Payment"


class PaymentUseCases:
    def __init__(self, uow_factory: PaymentsUnitOfWorkFactory, clock: Clock, audit: AuditTrail,
                 settler: Settler, providers: ProviderDirectory, config: PaymentConfig,
                 refunds: StripeRefunds, stripe_store: StripeStore) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._audit = audit
        self.settler = settler
        self.providers = providers
        self.config = config
        self.initiation = PaymentInitiation(uow_factory, clock, settler, providers, config)
        self.refunds = refunds
        self._stripe_store = stripe_store

    async def _authorize(self, caller: Caller, action: AuditAction,
                         targets: Sequence[tuple[str | None, str | None]],
                         payment_id: str | None = None) -> None:
        try:
            require_role(caller, *(READ_ROLES if action == AuditAction.READ else ROLES))
        except Forbidden:
            if payment_id is not None:
                # The denial names the payment's patient (read for the record only).
                async with self._uow_factory() as uow:
                    payment = (await uow.payments.get_many([payment_id])).get(payment_id)
                targets = [(payment_id, payment.patient_id if payment else None)]
            await self._audit.record(audit_records(
                caller, action=action, resource_type=RESOURCE, targets=targets or [(None, None)],
                outcome=AuditOutcome.DENIED, at=self._clock.now()))
            raise

    def _read_records(self, caller: Caller, payments: Sequence[Payment]) -> list[AuditRecord]:
        # Payments without a patient are business records, not patient data.
        return audit_records(caller, action=AuditAction.READ, resource_type=RESOURCE,
                             targets=[(p.id, p.patient_id) for p in payments if p.patient_id],
                             outcome=AuditOutcome.SUCCESS, at=self._clock.now())

    async def _views(self, payments: Sequence[Payment]) -> list[PaymentView]:
        """The views of a page of payments, their refunds read in one query."""
        refunds = await self._stripe_store.refunds_of([p.id for p in payments])
        return [payment_view(p, refunds.get(p.id, ())) for p in payments]

    async def _replayed_with_refunds(self, view: PaymentView) -> PaymentView:
        # A payment created just now has no refunds; an earlier one a key replays may have.
        if not view.replayed:
            return view
        refunds = (await self._stripe_store.refunds_of([view.payment.id]))[view.payment.id]
        return payment_view(view.payment, refunds, replayed=True)

    async def initiate(self, caller: Caller, request: PaymentRequest,
                       idempotency_key: str | None) -> PaymentView:
        await self._authorize(caller, AuditAction.CREATE, [(None, request.patient_id)])
        return await self._replayed_with_refunds(await self.initiation.start(
            caller, replace(request, direction=Direction.COLLECTION), idempotency_key))

    async def payout(self, caller: Caller, request: PaymentRequest,
                     idempotency_key: str | None) -> PaymentView:
        await self._authorize(caller, AuditAction.CREATE, [(None, request.patient_id)])
        return await self._replayed_with_refunds(await self.initiation.start(
            caller, replace(request, direction=Direction.PAYOUT), idempotency_key))

    async def get(self, caller: Caller, payment_id: str) -> PaymentView:
        await self._authorize(caller, AuditAction.READ, [], payment_id=payment_id)
        async with self._uow_factory() as uow:
            payment = (await uow.payments.get_many([payment_id])).get(payment_id)
            if payment is None:
                await uow.audit.append(audit_records(
                    caller, action=AuditAction.READ, resource_type=RESOURCE,
                    targets=[(payment_id, None)], outcome=AuditOutcome.NOT_FOUND,
                    at=self._clock.now()))
                await uow.commit()
                raise NotFound(f"no payment with id {payment_id!r}")
            history = (await uow.payments.history([payment_id]))[payment_id]
            await uow.audit.append(self._read_records(caller, [payment]))
            await uow.commit()
        refunds = (await self._stripe_store.refunds_of([payment_id]))[payment_id]
        return payment_view(payment, refunds, history=history)

    async def search(self, caller: Caller, query: PaymentQuery) -> list[PaymentView]:
        await self._authorize(caller, AuditAction.READ, [(None, p) for p in query.patient_ids or ()])
        limited = replace(query, limit=max(1, min(query.limit, MAX_PAGE)))
        async with self._uow_factory() as uow:
            found = await uow.payments.search(limited)
            # A page without patient payments is still a look into a register that holds
            # them: recorded with the patients the query named, if any.
            await uow.audit.append(self._read_records(caller, found) or audit_records(
                caller, action=AuditAction.READ, resource_type=RESOURCE,
                targets=patients_or_none(query.patient_ids or ()),
                outcome=AuditOutcome.SUCCESS, at=self._clock.now()))
            await uow.commit()
        return await self._views(found)

    async def for_patients(self, caller: Caller, patient_ids: Sequence[str],
                           per_patient: int = 50) -> dict[str, list[PaymentView]]:
        """One query for a page of patients (GraphQL ``Patient.payments`` batches here)."""
        unique = list(dict.fromkeys(patient_ids))
        await self._authorize(caller, AuditAction.READ, [(None, p) for p in unique])
        grouped: dict[str, list[Payment]] = {p: [] for p in unique}
        async with self._uow_factory() as uow:
            found = await uow.payments.search(PaymentQuery(
                patient_ids=tuple(unique), limit=min(1000, per_patient * max(1, len(unique)))))
            for p in found:
                if p.patient_id in grouped and len(grouped[p.patient_id]) < per_patient:
                    grouped[p.patient_id].append(p)
            await uow.audit.append(audit_records(
                caller, action=AuditAction.READ, resource_type=RESOURCE,
                targets=[(None, p) for p in unique], outcome=AuditOutcome.SUCCESS,
                at=self._clock.now()))
            await uow.commit()
        views = {v.payment.id: v for v in await self._views(
            [p for page in grouped.values() for p in page])}
        return {patient: [views[p.id] for p in page] for patient, page in grouped.items()}

    async def history(self, payment_ids: Sequence[str]) -> dict[str, list[PaymentTransition]]:
        """Transition rows of payments the caller was already allowed to read."""
        async with self._uow_factory() as uow:
            return await uow.payments.history(list(payment_ids))

    async def refund(self, caller: Caller, payment_id: str, amount: int | None = None,
                     reason: str | None = None,
                     idempotency_key: str | None = None) -> RefundView:
        """Stripe: a refund through Stripe's Refund API (``refunds.StripeRefunds``); the
        signed events then complete it. Mobile money (M-Pesa, MoMo, Orange) is refused: the
        APIs we integrate offer no refund."""
        view = await self.get(caller, payment_id)
        return await self.refunds.request(caller, view.payment, amount, reason, idempotency_key)
