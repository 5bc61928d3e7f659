"""Composition root: settings, create_app(), the lifespan that owns clients, and the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route

import adapters.hl7v2.parser as hl7_parser
from adapters.auth.keys import load_or_create_local_key
from adapters.auth.tokens import TokenVerifier
from adapters.db.engine import create_engine, session_factory
from adapters.db.health import DatabaseHealth
from adapters.db.migrate import upgrade_connection
from adapters.db.outbox import SqlOutboxStore
from adapters.db.statistics import StatisticsKeeper
from adapters.db.stripe_store import SqlStripeStore
from adapters.db.uow import SqlUnitOfWork
from adapters.db.webhooks import SqlLeadStore, SqlSuppressionList
from adapters.fhir.validator import FhirValidator
from adapters.hl7v2.mllp import MllpServer
from adapters.hl7v2.mllp_ingest import mllp_handler
from adapters.http.outbound import OutboundPolicy, build_http_client
from adapters.medplum.client import MedplumClient
from adapters.medplum.mirror import MEDPLUM, IsDeleted, MedplumMirror
from adapters.mpi.matcher import SqlPatientMatcher
from adapters.observability.metrics import Metrics
from adapters.observability.payment_metrics import PaymentMetrics
from adapters.outbox.webhook import EVENT_WEBHOOK, WebhookDelivery
from adapters.payments.registry import build_payment_providers
from adapters.payments.stripe_api.client import StripeRefundClient
from adapters.settings import Settings, load_settings
from adapters.webhooks.metrics import WebhookRejections
from adapters.webhooks.verifiers import webhook_verifiers
from resolvers.audit.trail import AuditTrail
from resolvers.clock import SystemClock
from resolvers.directory.organizations import OrganizationUseCases
from resolvers.errors import DomainError
from resolvers.fhir.bundles import BundleProcessor
from resolvers.fhir.capability import capability_statement
from resolvers.fhir.patient_source import PatientDocuments
from resolvers.fhir.service import FhirUseCases
from resolvers.fhir.writer import MirrorConfig
from resolvers.labs.alerts import EscalationPolicy, LabAlertDispatcher, LabAlerts
from resolvers.labs.ingest import LAB_ALERTS, LabIngest
from resolvers.labs.panic_values import PanicValueCheck
from resolvers.labs.patient_identity import IdentifierSystems
from resolvers.labs.queries import LabQueries
from resolvers.labs.review import MatchReview
from resolvers.mpi.patients import PatientUseCases
from resolvers.mpi.pdqm import PatientMatchService
from resolvers.outbox.admin import OutboxAdmin
from resolvers.outbox.delivery import DeliveryHandler
from resolvers.outbox.events import EventRouter
from resolvers.outbox.worker import OutboxWorker, RetryPolicy, WorkerConfig
from resolvers.payments.context import PaymentConfig
from resolvers.payments.wiring import PaymentServices, build_payment_services
from resolvers.services import Services
from resolvers.tenancy import OrganizationScoping
from resolvers.webhooks.admin import WebhookAdmin
from resolvers.webhooks.dispatch import InboxDispatcher
from resolvers.webhooks.handlers import (
    LeadCapture,
    ResendSuppressions,
    livekit_event,
    stripe_events,
)
from resolvers.webhooks.intake import WebhookIntake
from resolvers.webhooks.model import INBOX_DESTINATION, EventHandler
from resolvers.webhooks.service import WebhookUseCases
from rest_compat.body_limit import RequestBodyLimit
from rest_compat.errors import domain_error_handler, http_error_handler
from rest_compat.input_guard import InputGuardMiddleware
from rest_compat.middleware import RequestContextMiddleware
from rest_compat.openapi import build_openapi
from rest_compat.rate_limit import RateLimitMiddleware
from rest_compat.routes import OPERATIONS
from rest_compat.spec import build_routes
from rest_compat.unread_body import CloseWhenBodyUnread
from schema.build import build_schema
from schema.http import GRAPHQL_MAX_BODY_BYTES, CariGraphQL, GraphQLAuthGate, payload_too_large

log = logging.getLogger("cari.app")

# Extra destinations (tests, later capabilities) get the shared client when it exists.
HandlerFactory = Callable[[httpx.AsyncClient], Mapping[str, DeliveryHandler]]


def _trusted_issuers(settings: Settings) -> list[tuple[str, str]]:
    trusted = [(t.issuer, t.public_paserk) for t in settings.trusted_issuers]
    if settings.local_signing_key:
        trusted.append((settings.token_issuer,
                        load_or_create_local_key(settings.data_dir).public_paserk))
    return trusted


def _medplum_client(settings: Settings, client: httpx.AsyncClient) -> MedplumClient | None:
    if not settings.medplum_base_url:
        return None
    return MedplumClient(client, settings.medplum_base_url, settings.medplum_client_id,
                         settings.medplum_client_secret)


def _event_handlers(sessions: async_sessionmaker[AsyncSession], clock: SystemClock,
                    extra: Mapping[str, EventHandler] | None) -> dict[str, EventHandler]:
    """Inbound webhook handlers by provider (one line per provider); ``extra`` wins."""
    handlers: dict[str, EventHandler] = {
        "stripe": stripe_events(),  # extend with stripe_events({"payment_intent.*": ...})
        "livekit": livekit_event,
        "resend": ResendSuppressions(SqlSuppressionList(sessions, clock.now)),
        "lead": LeadCapture(SqlLeadStore(sessions, clock.now)),
    }
    handlers.update(extra or {})
    return handlers


def _inbox_dispatcher(settings: Settings, sessions: async_sessionmaker[AsyncSession],
                      extra: Mapping[str, EventHandler] | None = None) -> InboxDispatcher:
    """The outbox destination "inbox": processes stored webhook events."""
    clock = SystemClock()
    return InboxDispatcher(lambda: SqlUnitOfWork(sessions, clock.now), clock,
                           _event_handlers(sessions, clock, extra),
                           max_attempts=settings.outbox_max_attempts)


def _payment_config(settings: Settings) -> PaymentConfig:
    return PaymentConfig(public_base_url=settings.public_base_url,
                         collection_timeout_seconds=settings.payments_timeout_seconds)


def _stripe_api(settings: Settings, client: httpx.AsyncClient) -> StripeRefundClient | None:
    """Stripe's API (refunds) on the shared, allow-listed client; None without a key."""
    if not settings.stripe_api_key:
        return None
    return StripeRefundClient(client, settings.stripe_api_key, settings.stripe_api_base,
                              timeout_seconds=settings.http_timeout_seconds)


def _payment_event_handlers(payments: PaymentServices) -> dict[str, EventHandler]:
    """Mobile-money callbacks and Stripe payment events, for the webhook inbox."""
    return {**payments.inbox_handlers(), "stripe": stripe_events(payments.stripe_routes())}


def _worker_payments(settings: Settings, sessions: async_sessionmaker[AsyncSession],
                     client: httpx.AsyncClient) -> PaymentServices:
    """The payment handlers for a `cari-gateway worker` process."""
    clock = SystemClock()

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, clock.now)

    payments = build_payment_services(uow, clock, AuditTrail(uow), _payment_config(settings),
                                      stripe_store=SqlStripeStore(sessions))
    payments.providers.use(build_payment_providers(settings, client))
    return payments


def _locally_deleted(sessions: async_sessionmaker[AsyncSession]) -> IsDeleted:
    """For the Medplum mirror: is the gateway's current version of a resource a delete?"""
    async def is_deleted(resource_type: str, resource_id: str) -> bool:
        async with SqlUnitOfWork(sessions, SystemClock().now) as uow:
            current = (await uow.fhir.get_many(resource_type, [resource_id])).get(resource_id)
        return current is not None and current.deleted
    return is_deleted


def _lab_alert_channels(settings: Settings, client: httpx.AsyncClient) -> list[DeliveryHandler]:
    """Where critical lab alerts go. WhatsApp and webhook subscriptions will join here."""
    channels: list[DeliveryHandler] = []
    if settings.labs.alert_webhook_url:
        channels.append(WebhookDelivery(client, settings.labs.alert_webhook_url))
    return channels


def _lab_alert_dispatcher(settings: Settings, client: httpx.AsyncClient,
                          sessions: async_sessionmaker[AsyncSession],
                          on_undelivered: Callable[[], None] | None) -> LabAlertDispatcher:
    clock = SystemClock()
    return LabAlertDispatcher(lambda: SqlUnitOfWork(sessions, clock.now),
                              _lab_alert_channels(settings, client), on_undelivered)


def _delivery_handlers(settings: Settings, client: httpx.AsyncClient,
                       extra: HandlerFactory | None,
                       medplum: MedplumClient | None = None,
                       inbox: DeliveryHandler | None = None,
                       sessions: async_sessionmaker[AsyncSession] | None = None,
                       on_undelivered_alert: Callable[[], None] | None = None,
                       ) -> dict[str, DeliveryHandler]:
    handlers: dict[str, DeliveryHandler] = {}
    if inbox is not None:
        handlers[INBOX_DESTINATION] = inbox
    if sessions is not None:
        handlers[LAB_ALERTS] = _lab_alert_dispatcher(settings, client, sessions,
                                                     on_undelivered_alert)
    if settings.event_webhook_url:
        handlers[EVENT_WEBHOOK] = WebhookDelivery(client, settings.event_webhook_url)
    medplum = medplum or _medplum_client(settings, client)
    if medplum is not None:
        handlers[MEDPLUM] = MedplumMirror(
            medplum, _locally_deleted(sessions) if sessions is not None else None)
    if extra is not None:
        handlers.update(extra(client))
    return handlers


def build_worker(settings: Settings, store: SqlOutboxStore,
                 handlers: Mapping[str, DeliveryHandler]) -> OutboxWorker:
    return OutboxWorker(
        store, handlers, SystemClock(),
        RetryPolicy(max_attempts=settings.outbox_max_attempts,
                    base_seconds=settings.outbox_backoff_base_seconds,
                    max_seconds=settings.outbox_backoff_max_seconds),
        WorkerConfig(poll_seconds=settings.outbox_poll_seconds,
                     lease_seconds=settings.outbox_lease_seconds),
    )


def _mllp_tls(settings: Settings) -> ssl.SSLContext | None:
    if not settings.mllp_tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.mllp_tls_cert, settings.mllp_tls_key)
    if settings.mllp_tls_client_ca:  # laboratories authenticate with client certificates
        context.load_verify_locations(settings.mllp_tls_client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


async def _start_mllp(settings: Settings, services: Services) -> MllpServer | None:
    if not settings.mllp_port:
        return None
    server = MllpServer(mllp_handler(services.labs), settings.mllp_host, settings.mllp_port,
                        ssl_context=_mllp_tls(settings))
    await server.start()
    log.info("MLLP listener started", extra={"host": settings.mllp_host,
                                             "port": server.bound_port})
    return server


def _escalation_interval(escalate_seconds: float) -> float:
    """Look for overdue alerts often enough that none waits much past its deadline."""
    return max(0.05, min(30.0, escalate_seconds / 10))


async def migrate_engine(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await upgrade_connection(conn)


def create_app(
    settings: Settings | None = None,
    *,
    extra_handlers: HandlerFactory | None = None,
    extra_subscriptions: Mapping[str, Sequence[str]] | None = None,
    engine: AsyncEngine | None = None,
    extra_event_handlers: Mapping[str, EventHandler] | None = None,
) -> Starlette:
    settings = settings or load_settings(os.environ)
    engine = engine or create_engine(settings.database_url, pool_size=settings.db_pool_size)
    sessions = session_factory(engine)
    clock = SystemClock()
    metrics = Metrics()
    state: dict[str, OutboxWorker | None] = {"worker": None}

    def wake_worker() -> None:
        worker = state["worker"]
        if worker is not None:
            worker.wake()

    def uow_factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, clock.now, on_commit=wake_worker)

    subscriptions: dict[str, Sequence[str]] = dict(extra_subscriptions or {})
    if settings.event_webhook_url:
        subscriptions[EVENT_WEBHOOK] = ("*",)
    store = SqlOutboxStore(sessions)
    audit = AuditTrail(uow_factory)
    mirror = MirrorConfig(destinations=(MEDPLUM,) if settings.medplum_base_url else ())
    matcher = SqlPatientMatcher(sessions)
    # The parser module itself implements the Hl7Parser port (parse_oru).
    lab_ingest = LabIngest(uow_factory, clock, hl7_parser, matcher, mirror,
                           # SQLite has one writer; PostgreSQL takes a few transactions at once.
                           max_parallel=1 if engine.dialect.name == "sqlite" else 2,
                           systems=IdentifierSystems(settings.labs.identifier_systems),
                           provisional_patients=settings.labs.provisional_patients)
    lab_alerts = LabAlerts(uow_factory, clock, EscalationPolicy(
        escalate_after=timedelta(seconds=settings.labs.alert_escalate_seconds),
        max_escalations=settings.labs.alert_max_escalations,
        recipient=settings.labs.alert_escalation_recipient))
    scoping = OrganizationScoping(settings.org_scoping)
    fhir = FhirUseCases(uow_factory, clock, audit, FhirValidator(), mirror, scoping)
    patient_documents = PatientDocuments(fhir, remote=None)  # Medplum is set in the lifespan
    payments = build_payment_services(uow_factory, clock, audit, _payment_config(settings),
                                      PaymentMetrics(metrics.registry),
                                      stripe_store=SqlStripeStore(sessions))
    services = Services(
        patients=PatientUseCases(uow_factory, clock, audit, EventRouter(subscriptions), mirror,
                                 scoping),
        organizations=OrganizationUseCases(uow_factory, clock, mirror),
        audit=audit,
        outbox=OutboxAdmin(store, clock),
        authenticator=TokenVerifier(_trusted_issuers(settings), settings.token_audience),
        health=DatabaseHealth(engine),
        fhir=fhir,
        bundles=BundleProcessor(fhir, uow_factory, clock),
        patient_documents=patient_documents,
        labs=lab_ingest,
        lab_queries=LabQueries(uow_factory, fhir, clock),
        lab_review=MatchReview(uow_factory, clock, lab_ingest, matcher),
        lab_alerts=lab_alerts,
        panic_values=PanicValueCheck(audit, clock),
        patient_match=PatientMatchService(matcher, fhir),
        webhooks=WebhookUseCases(
            intake=WebhookIntake(uow_factory, clock, webhook_verifiers(settings),
                                 WebhookRejections(metrics.registry),
                                 max_parallel=1 if engine.dialect.name == "sqlite" else 2),
            admin=WebhookAdmin(uow_factory, clock)),
        payments=payments,
    )
    policy = OutboundPolicy(settings.outbound_allowlist)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await migrate_engine(engine)
        await matcher.load_parameters()  # re-estimated parameters, if an operator saved some
        client = build_http_client(policy, settings.http_timeout_seconds)
        app.state.http_client = client
        # One Medplum client for reads and the mirror: one OAuth2 token cache.
        medplum = _medplum_client(settings, client)
        patient_documents.use_remote(medplum)
        payments.providers.use(build_payment_providers(settings, client))
        payments.stripe_api.use(_stripe_api(settings, client))
        stop = asyncio.Event()
        task: asyncio.Task[None] | None = None
        if settings.outbox_worker:
            inbox = _inbox_dispatcher(settings, sessions, {**_payment_event_handlers(payments),
                                                           **(extra_event_handlers or {})})
            worker = build_worker(settings, store, _delivery_handlers(
                settings, client, extra_handlers, medplum, inbox=inbox, sessions=sessions,
                on_undelivered_alert=metrics.lab_alerts_undelivered.inc))
            state["worker"] = worker
            task = asyncio.create_task(worker.run(stop), name="outbox-worker")
        keeper = StatisticsKeeper(engine)
        statistics = (asyncio.create_task(keeper.run(stop), name="planner-statistics")
                      if keeper.applies else None)
        reconciler: asyncio.Task[None] | None = None
        if settings.payments_reconcile_seconds > 0:
            reconciler = asyncio.create_task(payments.reconciler.run(
                stop, settings.payments_reconcile_seconds), name="payments-reconciler")
        escalator: asyncio.Task[None] | None = None
        if lab_alerts.policy.enabled:
            escalator = asyncio.create_task(lab_alerts.run(stop, _escalation_interval(
                settings.labs.alert_escalate_seconds)), name="lab-alert-escalation")
        if not _lab_alert_channels(settings, client):
            log.warning("critical lab alerts have no delivery channel: set "
                        "CARI_LAB_ALERT_WEBHOOK_URL. Until then they are listed at "
                        "GET /api/lab/alerts and counted as undelivered on /metrics")
        mllp = await _start_mllp(settings, services)
        app.state.mllp = mllp
        log.info("gateway started", extra={"database": engine.url.get_backend_name()})
        try:
            yield
        finally:
            if mllp is not None:  # stop taking messages first; finish the ones in flight
                await mllp.stop(grace=settings.shutdown_timeout_seconds)
            stop.set()
            if task is not None:
                # The pass in progress finishes; its rows are settled or their lease expires.
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(task, settings.shutdown_timeout_seconds)
            for background in (reconciler, statistics, escalator):
                if background is not None:
                    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                        await asyncio.wait_for(background, settings.shutdown_timeout_seconds)
            state["worker"] = None
            patient_documents.use_remote(None)
            await client.aclose()
            await engine.dispose()
            log.info("gateway stopped")

    schema = build_schema(max_depth=settings.graphql_max_depth, max_cost=settings.graphql_max_cost)
    # Authentication first, then the size limit: Strawberry buffers the body it reads.
    graphql = GraphQLAuthGate(RequestBodyLimit(CariGraphQL(schema, services,
                                                           graphiql=settings.graphiql),
                                               GRAPHQL_MAX_BODY_BYTES, payload_too_large),
                              services, graphiql=settings.graphiql)
    routes: list[Route | Mount] = list(build_routes(OPERATIONS))
    routes.append(Route("/graphql", graphql, methods=["GET", "POST"], name="graphql"))
    middleware = [Middleware(RequestContextMiddleware, metrics=metrics),
                  Middleware(CloseWhenBodyUnread)]
    if settings.cors_origins:
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "X-Request-ID",
                           "X-Purpose-Of-Use"],
            expose_headers=["X-Request-ID", "ETag", "Location"], max_age=600))
    if settings.rate_limit_per_minute or settings.rate_limit_webhook_per_minute:
        # Inside CORS, so a browser can read the 429; webhook routes are the public writes.
        middleware.append(Middleware(
            RateLimitMiddleware, authenticator=services.authenticator,
            per_minute=settings.rate_limit_per_minute,
            webhook_per_minute=settings.rate_limit_webhook_per_minute,
            webhook_paths={op.path for op in OPERATIONS
                           if op.roles is None and op.method in ("POST", "PUT")}))
    # Innermost: refusals still carry the request id and CORS headers.
    middleware.append(Middleware(InputGuardMiddleware))
    app = Starlette(
        routes=routes, middleware=middleware, lifespan=lifespan,
        exception_handlers={DomainError: domain_error_handler,
                            HTTPException: http_error_handler},
    )
    app.state.services = services
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.engine = engine
    app.state.outbox_store = store
    app.state.openapi = build_openapi(OPERATIONS, server_url=settings.public_base_url)
    app.state.capability_statement = capability_statement(settings.public_base_url)
    return app


def standalone_payments(settings: Settings, sessions: async_sessionmaker[AsyncSession],
                        client: httpx.AsyncClient) -> PaymentServices:
    """The payment services of a process without the HTTP app (worker, reconcile)."""
    return _worker_payments(settings, sessions, client)


def standalone_handlers(settings: Settings, sessions: async_sessionmaker[AsyncSession],
                        client: httpx.AsyncClient) -> dict[str, DeliveryHandler]:
    """The outbox delivery handlers of a `cari-gateway worker` process."""
    return _delivery_handlers(settings, client, None, inbox=_inbox_dispatcher(
        settings, sessions, _payment_event_handlers(_worker_payments(settings, sessions,
                                                                     client))),
        sessions=sessions)


def main(argv: Sequence[str] | None = None) -> None:
    """``cari-gateway`` / ``python app.py``: the command line lives in cli.py."""
    from cli import main as command_line  # cli builds on this module, not the reverse

    command_line(argv)


if __name__ == "__main__":
    main()
