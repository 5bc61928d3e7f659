"""The whole gateway served over real HTTP (uvicorn, in this process) next to the fake providers.

The fakes post their callbacks to the gateway's real callback URLs
(``CARI_PUBLIC_BASE_URL`` is the gateway's own loopback address). The gateway runs its outbox
worker (the webhook inbox) but no reconciler task: tests run reconciliation passes themselves
(``reconcile``), after making a payment due (``make_due``), so nothing depends on wall time.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, update

from adapters.auth.keys import load_or_create_local_key
from adapters.auth.tokens import TokenIssuer
from adapters.db.payments import H, P
from adapters.settings import load_settings
from app import create_app
from resolvers.clock import SystemClock
from tests.payments.fakes.daraja import FakeDaraja
from tests.payments.fakes.momo import FakeMomo
from tests.payments.fakes.orange import FakeOrange
from tests.receiver import eventually
from tests.support import Harness, free_port, serving_app

FINAL = ("succeeded", "failed", "cancelled", "expired")


def momo_env(fake: FakeMomo) -> dict[str, str]:
    return {"CARI_MTN_MOMO_BASE_URL": fake.base_url,
            "CARI_MTN_MOMO_COLLECTION_SUBSCRIPTION_KEY": fake.collection_key,
            "CARI_MTN_MOMO_API_USER": fake.api_user, "CARI_MTN_MOMO_API_KEY": fake.api_key,
            "CARI_MTN_MOMO_TARGET_ENVIRONMENT": fake.target_environment,
            "CARI_MTN_MOMO_CALLBACK_HOST": fake.callback_host,
            "CARI_MTN_MOMO_DISBURSEMENT_SUBSCRIPTION_KEY": fake.disbursement_key}


def orange_env(fake: FakeOrange) -> dict[str, str]:
    return {"CARI_ORANGE_MONEY_CLIENT_ID": fake.client_id,
            "CARI_ORANGE_MONEY_CLIENT_SECRET": fake.client_secret,
            "CARI_ORANGE_MONEY_MERCHANT_KEY": fake.merchant_key,
            "CARI_ORANGE_MONEY_RETURN_URL": "https://app.example.org/pay/done",
            "CARI_ORANGE_MONEY_CANCEL_URL": "https://app.example.org/pay/cancel",
            "CARI_ORANGE_MONEY_BASE_URL": fake.base_url, "CARI_ORANGE_MONEY_COUNTRY": fake.country}


def mpesa_env(fake: FakeDaraja, *, timeout: float | None = None) -> dict[str, str]:
    env = {"CARI_MPESA_BASE_URL": fake.base_url, "CARI_MPESA_CONSUMER_KEY": fake.consumer_key,
           "CARI_MPESA_CONSUMER_SECRET": fake.consumer_secret,
           "CARI_MPESA_SHORTCODE": fake.shortcode, "CARI_MPESA_PASSKEY": fake.passkey,
           "CARI_MPESA_B2C_INITIATOR_NAME": fake.initiator,
           "CARI_MPESA_B2C_SECURITY_CREDENTIAL": fake.security_credential,
           "CARI_MPESA_B2C_SHORTCODE": fake.b2c_shortcode}
    if timeout is not None:
        env["CARI_MPESA_TIMEOUT"] = str(timeout)
    return env


@contextlib.asynccontextmanager
async def live_gateway(tmp: Path, env: Mapping[str, str],
                       database_url: str | None = None) -> AsyncIterator[Harness]:
    """The app served by uvicorn on a free loopback port; ``client`` talks real HTTP to it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = load_settings({
        "CARI_DATA_DIR": str(tmp / "var"),
        "CARI_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{tmp / 'cari.sqlite3'}",
        "CARI_PUBLIC_BASE_URL": base, "CARI_OUTBOUND_ALLOWLIST": "127.0.0.1",
        "CARI_OUTBOX_POLL_SECONDS": "0.05", "CARI_PAYMENTS_RECONCILE_SECONDS": "0",
        "CARI_LOG_LEVEL": "WARNING", **env})
    app = create_app(settings)
    issuer = TokenIssuer(load_or_create_local_key(settings.data_dir), settings.token_issuer,
                         settings.token_audience)
    async with serving_app(app, port=port, lifespan="on"), \
            httpx.AsyncClient(base_url=base, timeout=30) as client:
        yield Harness(app=app, client=client, settings=settings, issuer=issuer)


async def start(h: Harness, body: Mapping[str, Any], key: str,
                path: str = "/api/payments") -> dict[str, Any]:
    r = await h.client.post(path, json=dict(body),
                            headers={**h.auth("billing"), "Idempotency-Key": key})
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def payment(h: Harness, payment_id: str) -> dict[str, Any]:
    r = await h.client.get(f"/api/payments/{payment_id}", headers=h.auth("billing"))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def wait_status(h: Harness, payment_id: str, *wanted: str,
                      timeout: float = 10.0) -> dict[str, Any]:
    found: dict[str, Any] = await eventually(lambda: payment(h, payment_id),
                                             lambda p: p["status"] in (wanted or FINAL),
                                             timeout=timeout)
    return found


def statuses(p: Mapping[str, Any]) -> list[str]:
    """The ``to_status`` of every transition in the payment's history, in order."""
    return [t["to_status"] for t in p["history"]]


async def transitions_to(h: Harness, payment_id: str, status: str) -> int:
    """History rows of ``payment_id`` that moved it to ``status`` (straight from the table)."""
    async with h.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(H).where(
            H.c.payment_id == payment_id, H.c.to_status == status))).scalar_one())


async def events(h: Harness, provider: str) -> list[dict[str, Any]]:
    """The webhook inbox rows of ``provider`` (admin listing)."""
    r = await h.client.get("/api/webhooks/events", params={"provider": provider, "limit": 200},
                           headers=h.auth("admin"))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["data"]["items"]
    return items


async def inbox_idle(h: Harness, provider: str, count: int | None = None,
                     timeout: float = 10.0) -> list[dict[str, Any]]:
    """Wait until every stored event of ``provider`` was processed (and ``count`` exist)."""
    def done(found: list[dict[str, Any]]) -> bool:
        return (count is None or len(found) == count) and all(
            e["status"] in ("processed", "ignored", "dead") for e in found)
    found: list[dict[str, Any]] = await eventually(lambda: events(h, provider), done,
                                                   timeout=timeout)
    return found


async def make_due(h: Harness, payment_id: str, *, expired_for: float | None = None) -> None:
    """Make the payment due for the reconciler now (and past its expiry by ``expired_for`` s)."""
    now = SystemClock().now()
    values: dict[str, Any] = {"next_check_at": now - timedelta(seconds=1)}
    if expired_for is not None:
        values["expires_at"] = now - timedelta(seconds=expired_for)
    async with h.engine.begin() as conn:
        await conn.execute(update(P).where(P.c.id == payment_id).values(**values))


async def reconcile(h: Harness, payment_id: str, *, expired_for: float | None = None) -> int:
    """One reconciliation pass with ``payment_id`` due; returns how many payments it handled."""
    await make_due(h, payment_id, expired_for=expired_for)
    handled: int = await h.app.state.services.payments.reconciler.run_once()
    return handled
