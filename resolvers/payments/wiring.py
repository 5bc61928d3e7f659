"""Wiring of the payments capability: its use cases, handlers and reconciler, built once by the
composition root (this is a bundle of services, not a FHIR Bundle)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from resolvers.audit.trail import AuditTrail
from resolvers.clock import Clock
from resolvers.payments.callbacks import MOBILE_PROVIDERS, CallbackHandler, PaymentCallbacks
from resolvers.payments.config import PaymentConfig, ProviderDirectory
from resolvers.payments.ports import ProviderAnswers
from resolvers.payments.provider_health import PaymentProvidersHealth
from resolvers.payments.provider_outcomes import ProviderCallRecorder, RecordedStripeRefunds
from resolvers.payments.providers import PaymentProvider
from resolvers.payments.reconcile import PaymentReconciler
from resolvers.payments.refunds import StripeRefunds
from resolvers.payments.repository import PaymentsUnitOfWorkFactory
from resolvers.payments.service import PaymentUseCases
from resolvers.payments.settle import PaymentCounter, Settler
from resolvers.payments.stripe_events import STRIPE_EVENT_TYPES, StripePaymentEvents
from resolvers.payments.stripe_model import StripeApiHolder, StripeRefundApi, StripeStore
from resolvers.payments.stripe_refund_events import StripeRefundEvents
from resolvers.payments.stripe_subscriptions import StripeSubscriptions
from resolvers.webhooks.model import EventHandler


@dataclass(frozen=True)
class PaymentServices:
    use_cases: PaymentUseCases
    callbacks: PaymentCallbacks
    reconciler: PaymentReconciler
    providers: ProviderDirectory
    callback_handler: CallbackHandler
    stripe_events: StripePaymentEvents
    stripe_api: StripeApiHolder
    subscriptions: StripeSubscriptions
    provider_health: PaymentProvidersHealth  # the console's health page

    def inbox_handlers(self) -> dict[str, EventHandler]:
        """The webhook-inbox handlers for the mobile-money providers."""
        return {name: self.callback_handler for name in MOBILE_PROVIDERS}

    def stripe_routes(self) -> Mapping[str, EventHandler]:
        """Stripe event types (exact or ``prefix.*``) this capability handles."""
        return {event_type: self.stripe_events for event_type in STRIPE_EVENT_TYPES}


def build_payment_services(uow_factory: PaymentsUnitOfWorkFactory, clock: Clock, audit: AuditTrail,
                           config: PaymentConfig, counter: PaymentCounter | None = None, *,
                           stripe_store: StripeStore,
                           providers: Mapping[str, PaymentProvider] | None = None,
                           stripe_api: StripeRefundApi | None = None,
                           answers: ProviderAnswers) -> PaymentServices:
    # Every provider call (and Stripe refund) records its outcome for the health page.
    recorder = ProviderCallRecorder(clock.now)
    directory = ProviderDirectory(dict(providers or {}), recorder)
    holder = StripeApiHolder(RecordedStripeRefunds(stripe_api, recorder)
                             if stripe_api is not None else None)
    settler = Settler(uow_factory, clock, counter)
    use_cases = PaymentUseCases(uow_factory, clock, audit, settler, directory, config,
                                StripeRefunds(stripe_store, holder, clock), stripe_store)
    subscriptions = StripeSubscriptions(uow_factory, clock, audit, stripe_store)
    return PaymentServices(
        use_cases=use_cases,
        callbacks=PaymentCallbacks(uow_factory, directory, settler.count),
        reconciler=PaymentReconciler(uow_factory, clock, settler, directory, config,
                                     use_cases.initiation),
        providers=directory,
        callback_handler=CallbackHandler(uow_factory, clock, settler, directory, config),
        stripe_events=StripePaymentEvents(
            uow_factory, clock, settler,
            StripeRefundEvents(uow_factory, clock, settler, stripe_store), subscriptions),
        stripe_api=holder,
        subscriptions=subscriptions,
        provider_health=PaymentProvidersHealth(
            recorder, answers, lambda: directory.configured()
            | (frozenset({"stripe"}) if holder.api is not None else frozenset())),
    )
