"""Shared by the Stripe refund and subscription tests: the app wired to the fake Stripe API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.payments.fakes.base import serving
from tests.payments.fakes.stripe_api import API_KEY, FakeStripe
from tests.support import Harness, make_settings, running_app
from tests.webhooks.signing import STRIPE_SECRET


@pytest.fixture
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    async with serving(FakeStripe()) as fake:
        assert isinstance(fake, FakeStripe)
        yield fake


@pytest.fixture
async def stripe_app(tmp_path: Path, sqlite_url: str,
                     fake_stripe: FakeStripe) -> AsyncIterator[Harness]:
    """The app on SQLite with Stripe's API at the fake (loopback allow-listed) and webhooks."""
    settings = make_settings(tmp_path / "var", sqlite_url, payments_reconcile_seconds=0.0,
                             stripe_webhook_secrets=(STRIPE_SECRET,),
                             stripe_api_key=API_KEY, stripe_api_base=fake_stripe.base_url,
                             outbound_allowlist=("127.0.0.1",), http_timeout_seconds=2.0)
    async with running_app(settings) as harness:
        yield harness


async def deliver(h: Harness, event_type: str, obj: dict[str, Any], **kwargs: Any) -> None:
    """A Stripe event, signed by the official SDK, through the gateway's webhook route."""
    raw, headers = FakeStripe.signed(STRIPE_SECRET, event_type, obj, **kwargs)
    r = await h.client.post("/api/webhooks/stripe", content=raw, headers=headers)
    assert r.status_code == 200, r.text
