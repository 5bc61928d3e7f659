"""The builders of the composition root, one per capability or concern: each turns settings
and opened resources into the adapters and use cases of one part of the gateway.
``composition.open_gateway`` calls them in order; nothing here opens or closes anything."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.auth.certificates import PemCertificateReader
from adapters.auth.jose_keys import (
    ClientAssertionVerifier,
    IdTokenSigner,
    load_or_create_id_token_key,
)
from adapters.auth.keys import load_or_create_local_key, public_key_id
from adapters.auth.smart_tokens import SmartAccessTokens
from adapters.auth.tokens import TokenIssuer, TokenVerifier
from adapters.db.health import DatabaseHealth
from adapters.db.outbox import SqlOutboxStore
from adapters.db.smart import SqlSmartStore
from adapters.db.uow import SqlUnitOfWork
from adapters.db.webhooks import SqlLeadStore, SqlSuppressionList
from adapters.fhir.validator import FhirValidator
from adapters.hie.client import HttpHieClient
from adapters.hie.guard import AllowListGuard
from adapters.hie.mtls import mtls_clients
from adapters.http.outbound import OutboundPolicy
from adapters.lab_alerts.clinician_phones import DirectoryAndPractitionerPhones
from adapters.lab_alerts.pg_feed import PostgresAlertFeed
from adapters.lab_alerts.subscribers import EndpointList, EndpointSubscribers
from adapters.medplum.client import MedplumClient
from adapters.medplum.mirror import IsDeleted
from adapters.outbox.webhook import WebhookDelivery
from adapters.payments.stripe_api.client import StripeRefundClient
from adapters.settings import Settings
from adapters.settings.masking import masked_settings
from resolvers.audit.trail import AuditTrail
from resolvers.authn import Authenticator
from resolvers.clock import SystemClock
from resolvers.crossborder.breaker import CircuitBreakers
from resolvers.crossborder.cache import AnswerCache
from resolvers.crossborder.countries import DEFAULT_PROFILES
from resolvers.crossborder.lookup import CrossBorderLookup
from resolvers.directory.fhir_twin import organization_twin
from resolvers.fhir.ports import FhirWriteUnitOfWork, TwinWriter
from resolvers.fhir.writer import TWINNED
from resolvers.labs.alerting.channels import (
    AlertChannel,
    SubscriptionsChannel,
    WebhookChannel,
    WhatsAppChannel,
)
from resolvers.labs.alerting.feed import InMemoryAlertFeed
from resolvers.labs.alerting.model import (
    SUBSCRIPTIONS,
    WEBHOOK,
    AlertRoutes,
    ChannelSpec,
    WhatsAppAlertTemplate,
)
from resolvers.labs.alerting.ports import LabAlertFeed
from resolvers.messaging.ports import MessageScheduler
from resolvers.messaging.wiring import MessagingServices
from resolvers.mpi.fhir_twin import patient_twin
from resolvers.notifications.endpoints import WebhookEndpoints
from resolvers.operations.health.report import HealthSources, OperationsHealth
from resolvers.payments.provider_health import PaymentProvidersHealth
from resolvers.payments.wiring import PaymentServices
from resolvers.smart.config import SmartConfig
from resolvers.smart.wiring import SmartServices, build_smart_services
from resolvers.webhooks.handlers import LeadCapture, ResendSuppressions, livekit_event, stripe_events
from resolvers.webhooks.model import EventHandler

log = logging.getLogger("cari.app")


class SqlTwins:
    """The twins of FHIR resources, bound to the SQL unit of work the write runs in."""

    def bound(self, resource_type: str, uow: FhirWriteUnitOfWork) -> TwinWriter | None:
        if resource_type not in TWINNED:
            return None
        if not isinstance(uow, SqlUnitOfWork):  # the only unit of work this root builds
            raise TypeError(f"no {resource_type} twin for {type(uow).__name__}")
        return patient_twin(uow) if resource_type == "Patient" else organization_twin(uow)


def trusted_issuers(settings: Settings) -> list[tuple[str, str]]:
    trusted = [(t.issuer, t.public_paserk) for t in settings.trusted_issuers]
    if settings.local_signing_key:
        trusted.append((settings.token_issuer,
                        load_or_create_local_key(settings.data_dir).public_paserk))
    return trusted


def token_verifier(settings: Settings) -> TokenVerifier:
    return TokenVerifier(trusted_issuers(settings), settings.token_audience)


def smart_services(settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: SystemClock,
           audit: AuditTrail, client: httpx.AsyncClient,
           authenticator: Authenticator) -> SmartServices:
    """SMART on FHIR: access tokens signed with the local key (which the verifier trusts
    when CARI_LOCAL_SIGNING_KEY is on, the default), id_tokens with the ES384 key."""
    smart = settings.smart
    issuer = TokenIssuer(load_or_create_local_key(settings.data_dir), settings.token_issuer,
                         settings.token_audience)
    return build_smart_services(
        SqlSmartStore(sessions), clock,
        SmartConfig(base_url=settings.public_base_url, launch_seconds=smart.launch_seconds,
                    code_seconds=smart.code_seconds,
                    access_token_seconds=smart.access_token_seconds,
                    refresh_token_seconds=smart.refresh_token_seconds,
                    assertion_max_seconds=smart.assertion_max_seconds),
        audit, SmartAccessTokens(issuer),
        IdTokenSigner(load_or_create_id_token_key(settings.data_dir)),
        ClientAssertionVerifier(client), authenticator)


def medplum_client(settings: Settings, client: httpx.AsyncClient) -> MedplumClient | None:
    if not settings.medplum_base_url:
        return None
    # One Medplum client for reads and the mirror: one OAuth2 token cache.
    return MedplumClient(client, settings.medplum_base_url, settings.medplum_client_id,
                         settings.medplum_client_secret)


def stripe_api(settings: Settings, client: httpx.AsyncClient) -> StripeRefundClient | None:
    """Stripe's API (refunds) on the shared, allow-listed client; None without a key."""
    if not settings.stripe_api_key:
        return None
    return StripeRefundClient(client, settings.stripe_api_key, settings.stripe_api_base,
                              timeout_seconds=settings.http_timeout_seconds)


def cross_border_lookup(settings: Settings, client: httpx.AsyncClient, policy: OutboundPolicy,
                  audit: AuditTrail, clock: SystemClock,
                  owned: list[httpx.AsyncClient]) -> CrossBorderLookup:
    """The HIE profiles (defaults, CARI_HIE_<CC>_*); its mTLS clients join ``owned``."""
    profiles = {code: replace(profile, **settings.hie.overrides.get(code, {}))  # type: ignore[arg-type]
                for code, profile in DEFAULT_PROFILES.items()}
    owned.extend((certified := mtls_clients(policy, profiles.values())).values())
    return CrossBorderLookup(profiles, HttpHieClient(client, mtls_clients=certified),
                             AllowListGuard(policy), FhirValidator(), audit,
                             clock.now, breakers=CircuitBreakers(
                                 time.monotonic, threshold=settings.hie.breaker_failures,
                                 reset_seconds=settings.hie.breaker_reset_seconds),
                             cache=AnswerCache(settings.hie.cache_seconds, time.monotonic))


def lab_alert_routes(settings: Settings) -> AlertRoutes:
    """CARI_LAB_ALERT_ROUTES, or the one route the legacy settings imply."""
    labs = settings.labs
    return AlertRoutes.of(labs.alert_routing.effective_routes(labs.alert_webhook_url))


def lab_alert_channels(settings: Settings, routes: AlertRoutes, client: httpx.AsyncClient,
                       endpoints: EndpointList, sessions: async_sessionmaker[AsyncSession],
                       scheduler: MessageScheduler | None,
                       ) -> dict[ChannelSpec, AlertChannel]:
    """The channels the routes name. WhatsApp ones need patient messaging's scheduler: without
    it they are left out, and the dispatcher hands over to the next channel."""
    routing = settings.labs.alert_routing
    template = WhatsAppAlertTemplate(routing.whatsapp_template, routing.whatsapp_language,
                                     settings.public_base_url + routing.link_path)
    phones = DirectoryAndPractitionerPhones(dict(routing.clinician_phones), sessions)
    channels: dict[ChannelSpec, AlertChannel] = {}
    for spec in routes.all_channels():
        if spec.kind == SUBSCRIPTIONS:
            channels[spec] = SubscriptionsChannel(spec, EndpointSubscribers(endpoints))
        elif spec.kind == WEBHOOK:
            channels[spec] = WebhookChannel(spec, WebhookDelivery(client, spec.target))
        elif scheduler is not None:
            channels[spec] = WhatsAppChannel(spec, scheduler, phones, template)
        else:
            log.warning("lab alert routes name WhatsApp, but patient messaging is not "
                        "configured: those channels are skipped")
    return channels


def lab_alert_feed(engine: AsyncEngine) -> tuple[LabAlertFeed, PostgresAlertFeed | None]:
    """In-process on SQLite; across processes (LISTEN/NOTIFY) on PostgreSQL, whose listening
    connection the caller runs (``PostgresAlertFeed.run``) for as long as the gateway."""
    local = InMemoryAlertFeed()
    if engine.dialect.name != "postgresql":
        return local, None
    shared = PostgresAlertFeed(engine, local)
    return shared, shared


async def event_webhook_endpoint(settings: Settings, endpoints: WebhookEndpoints) -> None:
    """CARI_EVENT_WEBHOOK_URL: a subscription to every catalogue event, signed."""
    endpoint, generated = await endpoints.from_settings(
        settings.event_webhook_url, settings.webhooks_out.event_webhook_secret or None)
    if generated:
        log.warning("CARI_EVENT_WEBHOOK_URL's deliveries are signed with a generated secret: "
                    "set CARI_EVENT_WEBHOOK_SECRET, or rotate it (POST /api/webhooks/endpoints/"
                    f"{endpoint.id}/rotate-secret) to read one")


def locally_deleted(sessions: async_sessionmaker[AsyncSession]) -> IsDeleted:
    """For the Medplum mirror: is the gateway's current version of a resource a delete?"""
    async def is_deleted(resource_type: str, resource_id: str) -> bool:
        async with SqlUnitOfWork(sessions, SystemClock().now) as uow:
            current = (await uow.fhir.get_many(resource_type, [resource_id])).get(resource_id)
        return current is not None and current.deleted
    return is_deleted


def event_handlers(sessions: async_sessionmaker[AsyncSession], clock: SystemClock,
                    payments: PaymentServices,
                    extra: Mapping[str, EventHandler]) -> dict[str, EventHandler]:
    """Inbound webhook handlers by provider (one line per provider); ``extra`` wins."""
    return {
        "stripe": stripe_events(payments.stripe_routes()),
        "livekit": livekit_event,
        "resend": ResendSuppressions(SqlSuppressionList(sessions, clock.now)),
        "lead": LeadCapture(SqlLeadStore(sessions, clock.now)),
        **payments.inbox_handlers(),  # the mobile-money callbacks
        **extra,
    }



def operations_health(settings: Settings, engine: AsyncEngine, store: SqlOutboxStore,
                      cross_border: CrossBorderLookup, messaging: MessagingServices,
                      payment_providers: PaymentProvidersHealth,
                      clock: SystemClock) -> OperationsHealth:
    """The console's health report: readiness, outbox depth, HIE circuits, payment
    providers, expiring certificates and keys, masked settings."""
    sender = messaging.sender
    return OperationsHealth(HealthSources(
        probe=DatabaseHealth(engine), outbox=store, hies=cross_border,
        payment_providers=payment_providers,
        certificates=PemCertificateReader(), clock=clock,
        certificate_files=[("MLLP server certificate", settings.mllp_tls_cert)]
        if settings.mllp_tls_cert else [],
        token_keys=[(issuer, public_key_id(paserk))
                    for issuer, paserk in trusted_issuers(settings)],
        whatsapp_token_expired=(lambda: sender.health.token_expired)
        if sender is not None else None,
        settings=masked_settings(settings)))
