"""The one place that builds the gateway: every adapter and use case, once, from settings.

``open_gateway`` opens what has to be opened (the database engine's migrations, the shared
outbound HTTP client), builds every adapter on them, then every use case with its final
adapters (nothing is swapped in later), and closes it all on exit. The HTTP app's lifespan
(app.py) and the command line's ``worker`` and ``reconcile`` (cli.py) both ask it for what
they need, so a worker process runs exactly the handlers the server runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import adapters.hl7v2.parser as hl7_parser
from adapters.auth.tokens import TokenVerifier
from adapters.cds.instances import cds_adapters
from adapters.db.audit_writes import SqlAuditWrites
from adapters.db.engine import session_factory
from adapters.db.health import DatabaseHealth
from adapters.db.match_index import index_missing
from adapters.db.message_log import SqlMessageLog
from adapters.db.migrate import upgrade_connection
from adapters.db.outbox import SqlOutboxStore
from adapters.db.outbox_pauses import SqlPausedDestinations
from adapters.db.payment_answers import SqlProviderAnswers
from adapters.db.read_connection import StatementReader
from adapters.db.read_engine import read_engine_for
from adapters.db.read_uow import SqlReadUnitOfWork
from adapters.db.refused_messages import SqlRefusedMessages
from adapters.db.stripe_store import SqlStripeStore
from adapters.db.traffic import SqlTrafficStore
from adapters.db.uow import SqlUnitOfWork
from adapters.dhis2.instances import dhis2_adapters
from adapters.dicom.instances import dicom_adapters
from adapters.fhir.lab_views import decode_lab_views
from adapters.fhir.validator import FhirValidator
from adapters.hl7v2.ack import stored_ack
from adapters.http.outbound import OutboundPolicy, build_http_client
from adapters.medplum.mirror import MEDPLUM, MedplumMirror
from adapters.mpi.matcher import SqlPatientMatcher
from adapters.observability.metrics import Metrics
from adapters.observability.payment_metrics import PaymentMetrics
from adapters.observability.refused_metrics import RefusedDropped
from adapters.payments.registry import build_payment_providers
from adapters.settings import Settings
from adapters.webhooks.metrics import WebhookRejections
from adapters.webhooks.verifiers import webhook_verifiers
from adapters.webhooks_out.instances import delivery_policy, webhook_adapters, webhook_store
from adapters.whatsapp.instances import whatsapp_adapters
from composition_builders import (
    SqlTwins,
    cross_border_lookup,
    event_handlers,
    event_webhook_endpoint,
    lab_alert_channels,
    lab_alert_feed,
    lab_alert_routes,
    locally_deleted,
    medplum_client,
    operations_health,
    smart_services,
    stripe_api,
    token_verifier,
)
from resolvers.audit.trail import AuditTrail
from resolvers.audit.writer import GroupedAuditWriter
from resolvers.cds.hooks.ports import MedicationChecker
from resolvers.cds.hooks.wiring import build_cds_services
from resolvers.clock import SystemClock
from resolvers.crossborder.importing import CrossBorderImport
from resolvers.directory.organizations import OrganizationUseCases
from resolvers.fhir.bundles import BundleProcessor
from resolvers.fhir.creations import FhirCreations
from resolvers.fhir.patient_source import PatientDocuments
from resolvers.fhir.service import FhirUseCases
from resolvers.fhir.writer import MirrorConfig
from resolvers.imaging.wiring import build_imaging
from resolvers.labs.alerting.channels import AlertChannel
from resolvers.labs.alerting.dispatch import LabAlertDispatcher
from resolvers.labs.alerting.model import ChannelSpec
from resolvers.labs.alerting.subscription import LabAlertSubscriptions
from resolvers.labs.alerts import EscalationPolicy, LabAlerts
from resolvers.labs.ingest import LAB_ALERTS, LabIngest
from resolvers.labs.panic_values import PanicValueCheck
from resolvers.labs.patient_identity import IdentifierSystems
from resolvers.labs.queries import LabQueries
from resolvers.labs.review import MatchReview
from resolvers.messaging.ports import MessageScheduler
from resolvers.messaging.wiring import build_messaging
from resolvers.messaging_uses.wiring import MessagingUses, build_messaging_uses, watchers
from resolvers.mpi.patients import PatientUseCases
from resolvers.mpi.pdqm import PatientMatchService
from resolvers.mpi.register_profile import RegisterProfiling
from resolvers.notifications.model import WEBHOOK_DELIVERY
from resolvers.notifications.wiring import build_notifications
from resolvers.operations.failures.report import Failures
from resolvers.operations.messages.log import MessageLog
from resolvers.operations.messages.refusals import RefusedMessages
from resolvers.operations.traffic.stats import TrafficStats
from resolvers.outbox.admin import OutboxAdmin
from resolvers.outbox.delivery import DeliveryHandler
from resolvers.outbox.destinations import OutboxDestinations
from resolvers.outbox.events import EventRouter
from resolvers.outbox.worker import OutboxWorker, RetryPolicy, WorkerConfig
from resolvers.payments.config import PaymentConfig
from resolvers.payments.providers import PaymentProvider
from resolvers.payments.wiring import build_payment_services
from resolvers.public_health.wiring import build_public_health
from resolvers.services import Services
from resolvers.tenancy import OrganizationScoping
from resolvers.webhooks.admin import WebhookAdmin
from resolvers.webhooks.dispatch import InboxDispatcher
from resolvers.webhooks.intake import WebhookIntake
from resolvers.webhooks.model import INBOX_DESTINATION, EventHandler
from resolvers.webhooks.service import WebhookUseCases

log = logging.getLogger("cari.app")

# Extra destinations (tests, later capabilities) get the shared client.
HandlerFactory = Callable[[httpx.AsyncClient], Mapping[str, DeliveryHandler]]


@dataclass(frozen=True)
class Extensions:
    """What a deployment or a test adds to the standard wiring."""

    handlers: HandlerFactory | None = None  # outbox destinations
    subscriptions: Mapping[str, Sequence[str]] = field(default_factory=dict)  # patient events
    event_handlers: Mapping[str, EventHandler] = field(default_factory=dict)  # inbound webhooks
    payment_providers: Mapping[str, PaymentProvider] | None = None  # instead of the settings'
    cds_checker: MedicationChecker | None = None  # instead of the shipped knowledge base
    lab_alert_scheduler: MessageScheduler | None = None  # WhatsApp lab alerts' (tests)
    # Patient messages' (appointment, lab-result-ready and refill reminders); None: WhatsApp
    # messaging's own scheduler when it is configured, else those uses are off.
    message_scheduler: MessageScheduler | None = None


@dataclass
class Gateway:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    client: httpx.AsyncClient
    services: Services
    outbox_store: SqlOutboxStore
    delivery_handlers: dict[str, DeliveryHandler]
    lab_alert_channels: Mapping[ChannelSpec, AlertChannel]
    worker: OutboxWorker | None = None  # the one this process runs, if any
    read_engine: AsyncEngine | None = None  # reads' own connections (SQLite), else engine
    messaging_uses: MessagingUses | None = None  # patient uses of messaging, when on


async def migrate_engine(engine: AsyncEngine) -> None:
    """The schema's migrations, then the derived data they do not build (frozen migrations
    run no live code): patients missing from the match index are indexed."""
    async with engine.begin() as conn:
        await upgrade_connection(conn)
    await _index_unindexed_patients(session_factory(engine))


def build_worker(settings: Settings, store: SqlOutboxStore,
                 handlers: Mapping[str, DeliveryHandler]) -> OutboxWorker:
    return OutboxWorker(
        store, handlers, SystemClock(),
        RetryPolicy(max_attempts=settings.outbox_max_attempts,
                    base_seconds=settings.outbox_backoff_base_seconds,
                    max_seconds=settings.outbox_backoff_max_seconds),
        WorkerConfig(poll_seconds=settings.outbox_poll_seconds,
                     lease_seconds=settings.outbox_lease_seconds),
        # Webhook deliveries retry on their own schedule (days, not the outbox's minutes).
        policies={WEBHOOK_DELIVERY: delivery_policy(settings.webhooks_out)},
    )


async def _index_unindexed_patients(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The match index is derived data: patients without it (an upgrade from before the index;
    rows written outside the gateway) are indexed at start, by the rules this build runs."""
    async with sessions() as session, session.begin():
        indexed = await index_missing(session)
    if indexed:
        log.info("patients added to the match index", extra={"count": indexed})


@contextlib.asynccontextmanager
async def open_gateway(settings: Settings, engine: AsyncEngine, *,
                       metrics: Metrics | None = None,
                       authenticator: TokenVerifier | None = None,
                       extensions: Extensions | None = None) -> AsyncIterator[Gateway]:
    """Migrate, open the HTTP client, build everything; close it all on exit."""
    extensions = extensions or Extensions()
    metrics = metrics or Metrics()
    await migrate_engine(engine)
    sessions = session_factory(engine)
    clock = SystemClock()
    policy = OutboundPolicy(settings.outbound_allowlist)
    client = build_http_client(policy, settings.http_timeout_seconds)
    owned_clients: list[httpx.AsyncClient] = []  # further clients closed with it (mTLS)
    gateway: Gateway | None = None
    # Live lab alerts: across processes on PostgreSQL, over a listening connection held
    # until the gateway closes.
    alert_feed, pg_alert_feed = lab_alert_feed(engine)
    feed_stop = asyncio.Event()
    feed_task = (asyncio.create_task(pg_alert_feed.run(feed_stop), name="lab-alert-feed")
                 if pg_alert_feed is not None else None)

    def wake_worker() -> None:  # a commit in this process wakes its worker at once
        if gateway is not None and gateway.worker is not None:
            gateway.worker.wake()

    def uow_factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, clock.now, on_commit=wake_worker)

    # Reads that write nothing (their audit rows go through audit_writer) run on their own
    # read-only connections on SQLite, outside the one writer's lock.
    # They run on Core connections, not ORM sessions (adapters/db/read_uow.py).
    read_engine = read_engine_for(engine)
    statements = StatementReader(read_engine)

    def reads() -> SqlReadUnitOfWork:
        return SqlReadUnitOfWork(read_engine, statements)

    # Its transactions are one executemany on the driver (adapters/db/audit_writes.py).
    audit_writes = SqlAuditWrites(engine)
    audit_writer = GroupedAuditWriter(
        audit_writes, max_parallel=1 if engine.dialect.name == "sqlite" else 2)
    try:
        medplum = medplum_client(settings, client)
        store = SqlOutboxStore(sessions)
        audit = AuditTrail(uow_factory, writer=audit_writer, reads=reads)
        messaging = build_messaging(whatsapp_adapters(settings.whatsapp, client, engine,
                                                      wake_worker), audit, clock.now)
        whatsapp = messaging.scheduler if messaging.config.configured else None
        # Appointment and MedicationRequest versions announce themselves (in their write's
        # transaction) to the reminders, when patient messaging is on.
        scheduler = extensions.message_scheduler or whatsapp
        mirror = MirrorConfig(destinations=(MEDPLUM,) if medplum is not None else (),
                              watchers=watchers(settings.messaging_uses) if scheduler else {})
        matcher = SqlPatientMatcher(sessions, read_sessions=session_factory(read_engine)
                                    if read_engine is not engine else None)
        # Parameters an operator stored, else the defaults for the register's kind.
        await matcher.load_parameters()
        sqlite = engine.dialect.name == "sqlite"  # one writer; PostgreSQL takes a few at once
        lab_ingest = LabIngest(uow_factory, clock, hl7_parser, matcher, mirror,
                               max_parallel=1 if sqlite else 2,
                               systems=IdentifierSystems(settings.labs.identifier_systems),
                               provisional_patients=settings.labs.provisional_patients,
                               notify_linked=scheduler is not None
                               and settings.messaging_uses.lab_results_on)
        scoping = OrganizationScoping(settings.org_scoping)
        subscriptions: dict[str, Sequence[str]] = dict(extensions.subscriptions)
        # REST and FHIR registrations share one grouped writer (resolvers/mpi/registration.py).
        patients = PatientUseCases(uow_factory, clock, audit, EventRouter(subscriptions),
                                   mirror, scoping, reads=reads, max_parallel=1 if sqlite else 2)
        fhir = FhirUseCases(uow_factory, clock, audit, FhirValidator(), mirror, scoping,
                            SqlTwins(), reads=reads, registrar=patients.registrations,
                            creations=FhirCreations(uow_factory, mirror,
                                                    max_parallel=1 if sqlite else 2))
        payments = build_payment_services(
            uow_factory, clock, audit,
            PaymentConfig(public_base_url=settings.public_base_url,
                          collection_timeout_seconds=settings.payments_timeout_seconds),
            PaymentMetrics(metrics.registry), stripe_store=SqlStripeStore(sessions),
            providers=extensions.payment_providers
            if extensions.payment_providers is not None
            else build_payment_providers(settings, client),
            stripe_api=stripe_api(settings, client), answers=SqlProviderAnswers(read_engine))
        verifier = authenticator or token_verifier(settings)
        cross_border = cross_border_lookup(settings, client, policy, audit, clock, owned_clients)
        known_destinations: set[str] = set()  # every handler's name, once all are registered
        destinations = OutboxDestinations(SqlPausedDestinations(sessions), store, audit, clock,
                                          known_destinations)
        services = Services(
            patients=patients,
            organizations=OrganizationUseCases(uow_factory, clock, mirror, reads=reads),
            audit=audit,
            outbox=OutboxAdmin(store, clock),
            outbox_destinations=destinations,
            authenticator=verifier,
            health=DatabaseHealth(engine),
            fhir=fhir,
            bundles=BundleProcessor(fhir, uow_factory, clock),
            patient_documents=PatientDocuments(fhir, remote=medplum),
            labs=lab_ingest,
            lab_queries=LabQueries(uow_factory, fhir, clock, audit, reads=reads,
                                   views=decode_lab_views),
            lab_review=MatchReview(uow_factory, clock, lab_ingest, matcher),
            lab_alerts=LabAlerts(uow_factory, clock, EscalationPolicy(
                escalate_after=timedelta(seconds=settings.labs.alert_escalate_seconds),
                max_escalations=settings.labs.alert_max_escalations,
                recipient=settings.labs.alert_escalation_recipient)),
            lab_alert_subscriptions=LabAlertSubscriptions(alert_feed, verifier, audit,
                                                          uow_factory, clock),
            panic_values=PanicValueCheck(audit, clock),
            patient_match=PatientMatchService(matcher, fhir),
            mpi_profile=RegisterProfiling(matcher),
            webhooks=WebhookUseCases(
                intake=WebhookIntake(uow_factory, clock, webhook_verifiers(settings),
                                     WebhookRejections(metrics.registry),
                                     max_parallel=1 if sqlite else 2),
                admin=WebhookAdmin(uow_factory, clock)),
            payments=payments,
            cross_border=cross_border,
            cross_border_import=CrossBorderImport(cross_border, patients, matcher, audit,
                                                  clock.now),
            smart=smart_services(settings, sessions, clock, audit, client, verifier),
            cds=build_cds_services(*cds_adapters(settings, client, engine, clock.now),
                                   extensions.cds_checker, fhir, audit, clock.now, verifier,
                                   max_parallel=1 if sqlite else 2),
            notifications=(notifications := build_notifications(webhook_adapters(
                settings.webhooks_out, client, policy, webhook_store(engine, wake_worker)),
                audit, clock)),
            public_health=(public_health := build_public_health(dhis2_adapters(
                settings, client, engine, read_engine, wake_worker), audit, clock.now)),
            messaging=messaging,
            imaging=(imaging := build_imaging(*dicom_adapters(settings, client, engine, wake_worker),
                                              patients, fhir, audit, FhirValidator(), clock.now)),
            message_log=MessageLog(SqlMessageLog(read_engine), audit, clock, stored_ack),
            refused_messages=RefusedMessages(SqlRefusedMessages(engine), clock,
                                             dropped=RefusedDropped(metrics.registry)),
            traffic=TrafficStats(SqlTrafficStore(read_engine), clock),
            operations_health=operations_health(settings, engine, store, cross_border,
                                                messaging, payments.provider_health, clock),
            operations_failures=Failures(OutboxAdmin(store, clock), store, notifications.endpoints,
                                         notifications.deliveries, destinations),
        )
        if settings.event_webhook_url:
            await event_webhook_endpoint(settings, notifications.endpoints)
        routes = lab_alert_routes(settings)
        channels = lab_alert_channels(settings, routes, client,
                                      webhook_store(engine, wake_worker), sessions,
                                      extensions.lab_alert_scheduler or whatsapp)
        handlers: dict[str, DeliveryHandler] = {**public_health.handlers,  # DHIS2 pushes
            **notifications.handlers,  # webhook fan-out and signed deliveries
            **imaging.handlers,  # DICOM SRs of annotations
            INBOX_DESTINATION: InboxDispatcher(
                uow_factory, clock,
                event_handlers(sessions, clock, payments,
                               {"whatsapp": messaging.inbox, **extensions.event_handlers}),
                max_attempts=settings.outbox_max_attempts),
            LAB_ALERTS: LabAlertDispatcher(uow_factory, clock, routes, channels, alert_feed,
                                           metrics.lab_alerts_undelivered.inc),
        }
        if medplum is not None:
            handlers[MEDPLUM] = MedplumMirror(medplum, locally_deleted(sessions))
        uses = build_messaging_uses(settings.messaging_uses, scheduler, fhir_writes=uow_factory,
                                    fhir_reads=reads, labs=uow_factory, mirror=mirror,
                                    clock=clock, audit=audit) if scheduler is not None else None
        if uses is not None:  # appointment and refill reminders, lab results ready
            handlers.update(uses.handlers)
            for prefix, reply_handler in uses.quick_replies.items():  # appointment: buttons
                messaging.quick_replies.register(prefix, reply_handler)
        if extensions.handlers is not None:
            handlers.update(extensions.handlers(client))
        known_destinations.update(handlers)
        gateway = Gateway(settings, engine, sessions, client, services, store, handlers,
                          channels, read_engine=read_engine, messaging_uses=uses)
        yield gateway
    finally:
        if gateway is not None:  # the CDS cards of answers already sent are kept
            await gateway.services.cds.hooks.settled()
        feed_stop.set()
        if feed_task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(feed_task, settings.shutdown_timeout_seconds)
        # Readers still waiting for their audit commit are answered before the pool closes.
        await audit_writer.drain(settings.shutdown_timeout_seconds)
        audit_writes.close()
        statements.close()
        await client.aclose()
        for owned in owned_clients:
            await owned.aclose()
        if read_engine is not engine:
            await read_engine.dispose()
