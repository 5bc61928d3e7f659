"""The HTTP application: create_app() declares the surfaces; its lifespan asks the composition
(composition.py) to build the gateway once, then runs the background work of a server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from adapters.auth.console_key import load_or_create_console_key
from adapters.db.engine import create_engine
from adapters.db.health import DatabaseHealth
from adapters.db.statistics import StatisticsKeeper
from adapters.hl7v2.mllp import MllpServer
from adapters.hl7v2.mllp_ingest import mllp_handler
from adapters.observability.metrics import Metrics
from adapters.settings import Settings, load_settings
from composition import (
    Extensions,
    Gateway,
    HandlerFactory,
    build_worker,
    open_gateway,
)
from composition_builders import token_verifier
from resolvers.cds.hooks.ports import MedicationChecker
from resolvers.errors import DomainError
from resolvers.fhir.capability import capability_statement
from resolvers.messaging.ports import MessageScheduler
from resolvers.payments.providers import PaymentProvider
from resolvers.webhooks.model import EventHandler
from rest_compat.body_limit import RequestBodyLimit
from rest_compat.cds_cors import CdsCorsMiddleware
from rest_compat.console import console_routes
from rest_compat.console.session import ConsoleConfig
from rest_compat.errors import domain_error_handler, http_error_handler
from rest_compat.input_guard import InputGuardMiddleware
from rest_compat.middleware import RequestContextMiddleware
from rest_compat.openapi import build_openapi
from rest_compat.rate_limit import RateLimitMiddleware
from rest_compat.route_index import RouteIndex
from rest_compat.routes import OPERATIONS
from rest_compat.spec import build_routes
from rest_compat.unread_body import CloseWhenBodyUnread
from schema.build import build_schema
from schema.graphiql import ASSETS_PATH, graphiql_assets
from schema.http import GRAPHQL_MAX_BODY_BYTES, CariGraphQL, GraphQLAuthGate, payload_too_large

log = logging.getLogger("cari.app")


def _mllp_tls(settings: Settings) -> ssl.SSLContext | None:
    if not settings.mllp_tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.mllp_tls_cert, settings.mllp_tls_key)
    if settings.mllp_tls_client_ca:  # laboratories authenticate with client certificates
        context.load_verify_locations(settings.mllp_tls_client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


async def _start_mllp(gateway: Gateway) -> MllpServer | None:
    settings = gateway.settings
    if not settings.mllp_port:
        return None
    handler = mllp_handler(gateway.services.labs,
                           refusals=gateway.services.refused_messages)
    server = MllpServer(handler, settings.mllp_host, settings.mllp_port,
                        ssl_context=_mllp_tls(settings))
    await server.start()
    log.info("MLLP listener started", extra={"host": settings.mllp_host,
                                             "port": server.bound_port})
    return server


def _escalation_interval(escalate_seconds: float) -> float:
    """Look for overdue alerts often enough that none waits much past its deadline."""
    return max(0.05, min(30.0, escalate_seconds / 10))


def _background(gateway: Gateway, stop: asyncio.Event) -> list[asyncio.Task[None]]:
    """The work a server process does besides answering: outbox, statistics, payments
    reconciliation, alert escalation, the MPI register profile."""
    settings, services = gateway.settings, gateway.services
    tasks: list[asyncio.Task[None]] = []
    if gateway.worker is not None:
        tasks.append(asyncio.create_task(gateway.worker.run(stop), name="outbox-worker"))
        # Scheduled WhatsApp messages go where outbox deliveries go: workers.
        if services.messaging.sender is not None:
            tasks.append(asyncio.create_task(services.messaging.sender.run(stop),
                                             name="whatsapp-sender"))
    if services.messaging.sender is not None and settings.whatsapp.template_sync_seconds > 0:
        tasks.append(asyncio.create_task(services.messaging.use_cases.sync_every(
            stop, settings.whatsapp.template_sync_seconds), name="whatsapp-template-sync"))
    keeper = StatisticsKeeper(gateway.engine)
    if keeper.applies:
        tasks.append(asyncio.create_task(keeper.run(stop), name="planner-statistics"))
    if settings.payments_reconcile_seconds > 0:
        tasks.append(asyncio.create_task(services.payments.reconciler.run(
            stop, settings.payments_reconcile_seconds), name="payments-reconciler"))
    if settings.mpi_profile_seconds > 0:
        tasks.append(asyncio.create_task(services.mpi_profile.run(
            stop, settings.mpi_profile_seconds), name="mpi-register-profile"))
    if services.lab_alerts.policy.enabled:
        tasks.append(asyncio.create_task(services.lab_alerts.run(stop, _escalation_interval(
            settings.labs.alert_escalate_seconds)), name="lab-alert-escalation"))
    return tasks


def create_app(
    settings: Settings | None = None,
    *,
    extra_handlers: HandlerFactory | None = None,
    extra_subscriptions: Mapping[str, Sequence[str]] | None = None,
    engine: AsyncEngine | None = None,
    extra_event_handlers: Mapping[str, EventHandler] | None = None,
    payment_providers: Mapping[str, PaymentProvider] | None = None,
    cds_checker: MedicationChecker | None = None,
    lab_alert_scheduler: MessageScheduler | None = None,
    message_scheduler: MessageScheduler | None = None,
) -> Starlette:
    settings = settings or load_settings(os.environ)
    engine = engine or create_engine(settings.database_url, pool_size=settings.db_pool_size)
    metrics = Metrics()
    authenticator = token_verifier(settings)
    extensions = Extensions(handlers=extra_handlers, subscriptions=dict(extra_subscriptions or {}),
                            event_handlers=dict(extra_event_handlers or {}),
                            payment_providers=payment_providers, cds_checker=cds_checker,
                            lab_alert_scheduler=lab_alert_scheduler,
                            message_scheduler=message_scheduler)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_gateway(settings, engine, metrics=metrics, authenticator=authenticator,
                                extensions=extensions) as gateway:
            if settings.outbox_worker:
                gateway.worker = build_worker(settings, gateway.outbox_store,
                                              gateway.delivery_handlers)
            app.state.services = gateway.services
            app.state.http_client = gateway.client
            app.state.read_engine = gateway.read_engine  # tests count its statements too
            stop = asyncio.Event()
            tasks = _background(gateway, stop)
            if not gateway.lab_alert_channels:
                # CARI_LAB_ALERT_ROUTES names only channels that cannot be built (WhatsApp
                # without CARI_WHATSAPP_*).
                log.warning("critical lab alerts have no usable delivery channel: see "
                            "CARI_LAB_ALERT_ROUTES. Until then they are listed at "
                            "GET /api/lab/alerts and counted as undelivered on /metrics "
                            "(webhook endpoints subscribed to lab.alert.raised and live "
                            "labAlertRaised subscribers get them either way)")
            mllp = await _start_mllp(gateway)
            app.state.mllp = mllp
            log.info("gateway started", extra={"database": engine.url.get_backend_name()})
            # What startup built (schema, compiled statements, settings, modules) lives as
            # long as the process: frozen, the collector no longer walks it. Every request
            # leaves cyclic garbage (GraphQL execution contexts), and each full collection
            # walked these ~240k objects too: 86 ms each, about a fifth of the CPU of a
            # GraphQL patient read. Unfrozen at shutdown, so an app built in a test process
            # leaves nothing behind.
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                gc.unfreeze()
                if mllp is not None:  # stop taking messages first; finish those in flight
                    await mllp.stop(grace=settings.shutdown_timeout_seconds)
                stop.set()
                # The outbox pass in progress finishes; its rows are settled or their lease
                # expires.
                for task in tasks:
                    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                        await asyncio.wait_for(task, settings.shutdown_timeout_seconds)
                gateway.worker = None
        await engine.dispose()
        log.info("gateway stopped")

    schema = build_schema(max_depth=settings.graphql_max_depth, max_cost=settings.graphql_max_cost)
    # Authentication first, then the size limit: Strawberry buffers the body it reads.
    view = CariGraphQL(schema, graphiql=settings.graphiql, allowed_origins=settings.cors_origins)
    graphql = GraphQLAuthGate(RequestBodyLimit(view, GRAPHQL_MAX_BODY_BYTES, payload_too_large),
                              authenticator, graphiql=settings.graphiql)
    # GraphQL first: the router tries routes in order, and front-end apps' every request
    # is to /graphql (no other route matches that path); behind the 116 REST routes, the
    # matching was about a twentieth of a GraphQL patient read.
    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"], name="graphql"),
        # Subscriptions: the socket authenticates at connection_init (schema/ws_auth.py).
        WebSocketRoute("/graphql", view, name="graphql-ws")]
    routes.append(RouteIndex(build_routes(OPERATIONS)))  # looked up by path prefix
    if settings.graphiql:  # the IDE's scripts and styles, served locally (no CDN)
        routes.append(Mount(ASSETS_PATH, app=graphiql_assets(), name="graphiql-assets"))
    routes.append(console_routes())  # the operator console (cookie sessions, rest_compat/console)
    middleware = [Middleware(RequestContextMiddleware, metrics=metrics),
                  Middleware(CloseWhenBodyUnread),
                  # CDS Hooks' own CORS (CARI_CDS_CORS_ORIGINS), outside the gateway-wide one
                  Middleware(CdsCorsMiddleware, origins=settings.cds.cors_origins)]
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
            RateLimitMiddleware, authenticator=authenticator,
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
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.engine = engine
    app.state.console = ConsoleConfig(
        key=settings.console.session_key or load_or_create_console_key(settings.data_dir),
        authenticator=authenticator,
        idle=timedelta(minutes=settings.console.session_minutes),
        absolute=timedelta(minutes=settings.console.session_absolute_minutes),
        https_base=settings.public_base_url.startswith("https://"))
    app.state.health = DatabaseHealth(engine)  # /readyz answers before the gateway is built
    app.state.openapi = build_openapi(OPERATIONS, server_url=settings.public_base_url)
    app.state.capability_statement = capability_statement(settings.public_base_url)
    return app
