"""The DHIS2 adapters from settings: the configured instances (each a client on the shared,
guarded HTTP client), the aggregates, the push store and the allow-list guard."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.dhis2_pushes import SqlDhis2Pushes
from adapters.db.engine import session_factory
from adapters.db.public_health_mch import HealthAggregates
from adapters.db.syndromic import SqlSyndromes
from adapters.dhis2.client import Dhis2Client, Dhis2Credentials
from adapters.dhis2.guard import Dhis2UrlGuard
from adapters.http.outbound import OutboundPolicy
from adapters.settings import Settings
from adapters.settings.dhis2 import Dhis2Settings
from resolvers.clock import SystemClock
from resolvers.public_health.ports import Dhis2Adapters


def dhis2_instances(settings: Dhis2Settings, client: httpx.AsyncClient,
                    timeout_seconds: float) -> dict[str, Dhis2Client]:
    """By URL, the name a push gives (``dhis2_url``); credentials from settings only."""
    return {i.url: Dhis2Client(client, i.url, Dhis2Credentials(
        username=i.username or None, password=i.password or None,
        api_token=i.api_token or None), timeout_seconds=timeout_seconds)
        for i in settings.instances}


def dhis2_adapters(settings: Settings, client: httpx.AsyncClient, engine: AsyncEngine,
                   read_engine: AsyncEngine, on_commit: Callable[[], None]) -> Dhis2Adapters:
    """Aggregates run on the read engine; a push and its outbox message on the writer (a
    commit wakes this process's outbox worker)."""
    return Dhis2Adapters(
        mapping=settings.dhis2.mapping, aggregates=HealthAggregates(read_engine),
        pushes=SqlDhis2Pushes(session_factory(engine), SystemClock().now, on_commit),
        instances=dhis2_instances(settings.dhis2, client, settings.http_timeout_seconds),
        guard=Dhis2UrlGuard(OutboundPolicy(settings.outbound_allowlist)),
        suppression_threshold=settings.dhis2.suppression_threshold,
        outbox_max_attempts=settings.outbox_max_attempts,
        syndromes=SqlSyndromes(read_engine))
