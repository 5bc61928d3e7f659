"""Fixtures of tests/payments. Provider-adapter fixtures are prefixed ``fake_``/``provider_``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from adapters.http.outbound import OutboundPolicy, build_http_client
from tests.payments.fake_provider import FakeProvider
from tests.payments.fakes.base import CallbackSink, running_sink, serving
from tests.payments.fakes.daraja import FakeDaraja
from tests.payments.fakes.momo import FakeMomo
from tests.payments.fakes.orange import FakeOrange
from tests.payments.stripe_support import fake_stripe, stripe_app  # noqa: F401  (fixtures)
from tests.support import Harness, make_settings, running_app
from tests.webhooks.signing import STRIPE_SECRET

# Outbound calls go through the gateway's guarded client; loopback is allow-listed like an
# operator would for a local stand-in.
PROVIDER_LOOPBACK = OutboundPolicy(["127.0.0.1"])


@pytest.fixture
async def provider_http() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(PROVIDER_LOOPBACK, 5.0) as client:
        yield client


@pytest.fixture
async def fake_callback_sink() -> AsyncIterator[CallbackSink]:
    async with running_sink() as sink:
        yield sink


@pytest.fixture
async def fake_daraja() -> AsyncIterator[FakeDaraja]:
    async with serving(FakeDaraja()) as fake:
        assert isinstance(fake, FakeDaraja)
        yield fake


@pytest.fixture
async def fake_momo() -> AsyncIterator[FakeMomo]:
    async with serving(FakeMomo()) as fake:
        assert isinstance(fake, FakeMomo)
        yield fake


@pytest.fixture
async def fake_orange() -> AsyncIterator[FakeOrange]:
    async with serving(FakeOrange()) as fake:
        assert isinstance(fake, FakeOrange)
        yield fake


# ---------------------------------------------------------------- payments domain (use cases)


@pytest.fixture
def fake_mpesa() -> FakeProvider:
    return FakeProvider(name="mpesa", currencies=frozenset({"KES"}))


@pytest.fixture
async def pay(tmp_path: Path, sqlite_url: str, fake_mpesa: FakeProvider) -> AsyncIterator[Harness]:
    """The app on SQLite, Stripe webhooks configured, an in-memory M-Pesa, no reconciler task."""
    settings = make_settings(tmp_path / "var", sqlite_url, payments_reconcile_seconds=0.0,
                             stripe_webhook_secrets=(STRIPE_SECRET,),
                             public_base_url="https://gw.example.org")
    async with running_app(settings) as harness:
        harness.app.state.services.payments.providers.use({"mpesa": fake_mpesa})
        yield harness


@pytest.fixture
async def pay_quiet(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    """As ``pay`` without background work: only the request under test touches the database."""
    settings = make_settings(tmp_path / "var", sqlite_url, payments_reconcile_seconds=0.0,
                             outbox_worker=False)
    async with running_app(settings) as harness:
        harness.app.state.services.payments.providers.use({"mpesa": FakeProvider()})
        yield harness
