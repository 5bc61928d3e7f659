"""Stripe refunds through the official SDK, on the app's shared, allow-listed httpx client.

``stripe.StripeClient(api_key, base_addresses={"api": CARI_STRIPE_API_BASE},
http_client=GuardedStripeHttpClient(client), max_network_retries=1)``. The SDK's own
``HTTPXClient`` always builds its own ``httpx.AsyncClient`` (it accepts neither a client nor a
transport), which would bypass ``CARI_OUTBOUND_ALLOWLIST``; so we implement the SDK's
``HTTPClient`` interface (``request_async``) on our shared client instead. Every request the
SDK makes, retries included, then passes the ``GuardedTransport`` check at send time, like
every other outbound call; the SDK keeps doing what it is for: headers, form encoding,
idempotency keys, retries, error classes and response objects.

The API key is never logged (the SDK puts it only in the ``Authorization`` header).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Mapping
from typing import Any, NoReturn

import httpx
import stripe

from adapters.http.outbound import OutboundRefused
from resolvers.payments.providers import ProviderRejected, ProviderUnavailable
from resolvers.payments.stripe_model import RefundAck

log = logging.getLogger("cari.payments")
DEFAULT_API_BASE = "https://api.stripe.com"
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
             httpx.UnsupportedProtocol, httpx.LocalProtocolError, OutboundRefused)


class GuardedStripeHttpClient(stripe.HTTPClient):
    """The SDK's HTTP interface, async only, on an httpx client owned by the app."""

    name = "httpx"

    def __init__(self, client: httpx.AsyncClient, timeout_seconds: float = 20.0) -> None:
        super().__init__()
        self._http = client
        self._timeout = timeout_seconds

    async def request_async(self, method: str, url: str, headers: Mapping[str, str],
                            post_data: Any = None) -> tuple[bytes, int, Mapping[str, str]]:
        try:
            response = await self._http.request(
                method.upper(), url, headers=dict(headers),
                content=post_data.encode() if isinstance(post_data, str) else post_data,
                timeout=self._timeout)
        except (httpx.HTTPError, OutboundRefused) as exc:
            self._connection_error(exc)
        return response.content, response.status_code, response.headers

    async def request_stream_async(self, method: str, url: str, headers: Mapping[str, str],
                                   post_data: Any = None
                                   ) -> tuple[AsyncIterable[bytes], int, Mapping[str, str]]:
        raise NotImplementedError("streaming Stripe responses are not used by the gateway")

    def sleep_async(self, secs: float) -> Any:
        return asyncio.sleep(secs)

    async def close_async(self) -> None:
        return None  # the app's lifespan closes the shared client

    def request(self, method: str, url: str, headers: Mapping[str, str] | None,
                post_data: Any = None, **_: Any) -> NoReturn:
        raise RuntimeError("the gateway calls Stripe asynchronously only")

    def request_stream(self, method: str, url: str, headers: Mapping[str, str] | None,
                       post_data: Any = None, **_: Any) -> NoReturn:
        raise RuntimeError("the gateway calls Stripe asynchronously only")

    def close(self) -> None:
        return None

    @staticmethod
    def _connection_error(exc: Exception) -> NoReturn:
        # A refusal by our outbound policy is never worth a retry; network errors are.
        raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
            f"could not reach Stripe ({type(exc).__name__}: {exc})"[:300],
            should_retry=not isinstance(exc, OutboundRefused)) from exc


class StripeRefundClient:
    """``StripeRefundApi`` on ``stripe.StripeClient``."""

    def __init__(self, client: httpx.AsyncClient, api_key: str, api_base: str = DEFAULT_API_BASE,
                 *, max_network_retries: int = 1, timeout_seconds: float = 20.0) -> None:
        self._stripe = stripe.StripeClient(
            api_key, base_addresses={"api": api_base.rstrip("/")},
            http_client=GuardedStripeHttpClient(client, timeout_seconds),
            max_network_retries=max_network_retries)

    async def create_refund(self, *, payment_intent: str | None, charge: str | None,
                            amount_minor: int, reason: str | None, idempotency_key: str,
                            metadata: Mapping[str, str]) -> RefundAck:
        params: dict[str, Any] = {"amount": amount_minor, "metadata": dict(metadata)}
        if payment_intent:
            params["payment_intent"] = payment_intent
        else:
            params["charge"] = charge
        if reason:
            params["reason"] = reason
        try:
            refund = await self._stripe.v1.refunds.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key})
        except stripe.StripeError as exc:
            raise _translated(exc) from exc
        return RefundAck(stripe_refund_id=refund.id, status=str(refund.status or "pending"),
                         amount_minor=int(refund.amount))


def _translated(exc: stripe.StripeError) -> Exception:
    status = exc.http_status
    message = (exc.user_message or str(exc) or type(exc).__name__)[:300]
    log.warning("stripe refund call failed", extra={
        "stripe_error": type(exc).__name__, "http_status": status, "stripe_code": exc.code})
    if isinstance(exc, stripe.APIConnectionError):
        return ProviderUnavailable(message, request_sent=not isinstance(exc.__cause__, _NOT_SENT))
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return ProviderUnavailable("Stripe refused our API key (CARI_STRIPE_API_KEY)",
                                   request_sent=False)
    if isinstance(exc, stripe.RateLimitError):
        return ProviderUnavailable("Stripe rate limit: " + message, request_sent=False)
    if isinstance(exc, stripe.IdempotencyError):
        return ProviderRejected("idempotency_error", message)
    if isinstance(exc, stripe.InvalidRequestError | stripe.CardError):
        return ProviderRejected(exc.code or "invalid_request", message)
    return ProviderUnavailable(message, request_sent=True)  # 5xx and anything unexpected
