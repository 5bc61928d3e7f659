"""The CDS Hooks adapters and configuration from settings: the SQL store of cards and
feedback, the EHR FHIR reader and the client JWT verifier (both on the shared, allow-listed
HTTP client), and the JWT id ledger they share the database with."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.cds_jwt import CdsJwtVerifier, JwksCache
from adapters.db.cds import SqlCdsStore, SqlJwtIdLedger
from adapters.db.engine import session_factory
from adapters.http.ehr_fhir import HttpEhrFhir
from adapters.http.outbound import OutboundPolicy
from adapters.settings import Settings
from resolvers.cds.hooks.model import CdsConfig
from resolvers.cds.hooks.ports import CdsAdapters


def cds_adapters(settings: Settings, client: httpx.AsyncClient, engine: AsyncEngine,
                 now: Callable[[], datetime]) -> tuple[CdsAdapters, CdsConfig]:
    cds = settings.cds
    policy = OutboundPolicy(settings.outbound_allowlist)
    verifier = CdsJwtVerifier(cds.clients_by_iss,
                              JwksCache(client, policy, cds.jwks_cache_seconds),
                              SqlJwtIdLedger(session_factory(engine)), now)
    config = CdsConfig(base_url=settings.public_base_url, card_seconds=cds.card_seconds,
                       lab_lookback=timedelta(hours=cds.lab_lookback_hours))
    return CdsAdapters(store=SqlCdsStore(engine), remote=HttpEhrFhir(client, policy),
                       client_tokens=verifier), config
