"""The gateway with WhatsApp configured against the fake Graph API (tests/messaging/
fake_graph.py), on SQLite or PostgreSQL; helpers to wait for the sender."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from adapters.settings import Settings
from adapters.settings.whatsapp import WhatsAppSettings
from tests.messaging.fake_graph import (
    ACCESS_TOKEN,
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    WABA_ID,
    FakeGraph,
    serving_graph,
)
from tests.support import Harness, make_settings, running_app

KE_PHONE = "+254711000111"


def whatsapp_settings(graph: FakeGraph, **over: Any) -> WhatsAppSettings:
    return replace(WhatsAppSettings(
        access_token=ACCESS_TOKEN, phone_number_id=PHONE_NUMBER_ID,
        business_account_id=WABA_ID, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN,
        graph_url=graph.base_url, default_country="KE", pair_interval_seconds=0.0,
        backoff_base_seconds=0.05, backoff_max_seconds=0.2, token_retry_seconds=0.2,
        poll_seconds=0.05, timeout_seconds=2.0), **over)


def gateway_settings(tmp_path: Path, database_url: str, graph: FakeGraph | None,
                     **over: Any) -> Settings:
    extra: dict[str, Any] = {"outbound_allowlist": ("127.0.0.1",)}
    if graph is not None:
        extra["whatsapp"] = whatsapp_settings(graph, **over)
    return make_settings(tmp_path / "var", database_url, **extra)


@dataclass
class World:
    graph: FakeGraph
    gateway: Harness

    @property
    def webhook_url(self) -> str:
        return "/api/webhooks/whatsapp"

    async def post_webhook(self, payload: dict[str, Any] | bytes) -> Any:
        raw, headers = self.graph.signed(payload)
        return await self.gateway.client.post(self.webhook_url, content=raw, headers=headers)

    async def register(self, name: str, language: str, body: str, *,
                       buttons: tuple[str, ...] = (), status: str = "APPROVED") -> None:
        """The template on the fake WABA and registered here (as a sync would)."""
        self.graph.add_template(name, language, body, buttons=buttons, status=status)
        response = await self.gateway.client.post(
            "/api/notifications/templates/sync", headers=self.gateway.auth("integrator"))
        assert response.status_code == 200, response.text

    async def patient(self, phone: str = KE_PHONE, *, opted_in: bool = True,
                      **body: Any) -> str:
        created = await self.gateway.create_patient(phone=phone, **body)
        if opted_in:
            response = await self.gateway.client.put(
                f"/api/patients/{created['id']}/messaging-consent",
                json={"state": "opted_in"}, headers=self.gateway.auth("clinician"))
            assert response.status_code == 200, response.text
        return str(created["id"])

    async def notify(self, **body: Any) -> Any:
        return await self.gateway.client.post("/api/notifications", json=body,
                                              headers=self.gateway.auth("clinician"))

    async def message(self, message_id: str) -> dict[str, Any]:
        response = await self.gateway.client.get(f"/api/notifications/{message_id}",
                                                 headers=self.gateway.auth("clinician"))
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def until(self, message_id: str, done: Callable[[dict[str, Any]], bool],
                    timeout: float = 10.0) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            data = await self.message(message_id)
            if done(data) or loop.time() > deadline:
                return data
            await asyncio.sleep(0.05)

    async def settled(self, message_id: str, timeout: float = 10.0) -> dict[str, Any]:
        return await self.until(message_id, lambda m: m["status"] not in (
            "scheduled", "sending"), timeout)


@contextlib.asynccontextmanager
async def whatsapp_world(tmp_path: Path, database_url: str, **over: Any,
                         ) -> AsyncIterator[World]:
    async with serving_graph() as graph:
        settings = gateway_settings(tmp_path, database_url, graph, **over)
        async with running_app(settings) as gateway:
            yield World(graph, gateway)


@pytest.fixture
async def world(tmp_path: Path, sqlite_url: str) -> AsyncIterator[World]:
    async with whatsapp_world(tmp_path, sqlite_url) as made:
        yield made


@pytest.fixture
async def world_any_db(tmp_path: Path, database_url: str) -> AsyncIterator[World]:
    async with whatsapp_world(tmp_path, database_url) as made:
        yield made
