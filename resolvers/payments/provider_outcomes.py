"""Each payment provider's outbound calls as this process saw them: last success, last
failure with a short error, consecutive failures (the console's health page).

Record-only: nothing here refuses a call. The consecutive-failure count is kept by the HIEs'
:class:`~resolvers.crossborder.breaker.CircuitBreakers` (the same counter the health page shows
for HIEs), but its ``allow`` is never asked: short-circuiting payments could strand a status
query or a reconciliation, and money must never be taken twice, so a failing provider is
shown, not skipped.

A ``ProviderRejected`` counts as an answer (the provider is up and said no); a
``ProviderUnavailable`` (timeout, 5xx, 429, credentials refused) or any other exception counts
as a failure.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from resolvers.crossborder.breaker import CircuitBreakers
from resolvers.payments.providers import (
    CallbackNotice,
    CollectionRequest,
    PaymentProvider,
    PayoutRequest,
    ProviderAck,
    ProviderRejected,
    ProviderStatus,
)
from resolvers.payments.stripe_model import RefundAck, StripeRefundApi

FAILING_AFTER = 3  # consecutive failures that turn a provider's state to "failing"
ERROR_TEXT_LIMIT = 160
# Phone numbers, account and transaction numbers: long digit runs never reach the page.
_DIGITS = re.compile(r"\+?\d[\d ]{5,}\d")

T = TypeVar("T")


def short_error(exc: BaseException) -> str:
    """The error's class and the start of its message, long digit runs masked."""
    text = _DIGITS.sub("…", " ".join(str(exc).split()))
    summary = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return summary[:ERROR_TEXT_LIMIT]


@dataclass(frozen=True)
class CallOutcomes:
    """One provider's calls in this process."""

    last_success: datetime | None
    last_failure: datetime | None
    last_error: str
    consecutive_failures: int

    @property
    def state(self) -> str:
        """unknown (never called) | ok | degraded (failed lately, fewer than
        ``FAILING_AFTER`` times in a row) | failing."""
        if self.last_success is None and self.last_failure is None:
            return "unknown"
        if self.consecutive_failures >= FAILING_AFTER:
            return "failing"
        return "degraded" if self.consecutive_failures else "ok"


NEVER_CALLED = CallOutcomes(None, None, "", 0)


class ProviderCallRecorder:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        # Counting only (allow() is never asked), so the reset time plays no part.
        self._failures = CircuitBreakers(time.monotonic, threshold=FAILING_AFTER)
        self._success: dict[str, datetime] = {}
        self._failure: dict[str, tuple[datetime, str]] = {}

    def succeeded(self, provider: str) -> None:
        self._failures.succeeded(provider)
        self._success[provider] = self._now()

    def failed(self, provider: str, exc: BaseException) -> None:
        self._failures.failed(provider)
        self._failure[provider] = (self._now(), short_error(exc))

    def outcomes(self, provider: str) -> CallOutcomes:
        failure = self._failure.get(provider)
        return CallOutcomes(last_success=self._success.get(provider),
                            last_failure=failure[0] if failure else None,
                            last_error=failure[1] if failure else "",
                            consecutive_failures=self._failures.state(provider)[1])

    async def call(self, provider: str, request: Callable[[], Awaitable[T]]) -> T:
        try:
            answer = await request()
        except ProviderRejected:
            self.succeeded(provider)  # it answered: a refusal is not an outage
            raise
        except Exception as exc:
            self.failed(provider, exc)
            raise
        self.succeeded(provider)
        return answer


class RecordedProvider:
    """A :class:`PaymentProvider` whose outbound calls are recorded; answers and errors pass
    through unchanged."""

    def __init__(self, inner: PaymentProvider, recorder: ProviderCallRecorder) -> None:
        self.inner = inner
        self.name = inner.name
        self.currencies = inner.currencies
        self._recorder = recorder

    async def initiate_collection(self, request: CollectionRequest) -> ProviderAck:
        return await self._recorder.call(self.name,
                                         lambda: self.inner.initiate_collection(request))

    async def query_collection(self, provider_reference: str,
                               request: CollectionRequest) -> ProviderStatus:
        return await self._recorder.call(
            self.name, lambda: self.inner.query_collection(provider_reference, request))

    async def initiate_payout(self, request: PayoutRequest) -> ProviderAck:
        return await self._recorder.call(self.name, lambda: self.inner.initiate_payout(request))

    async def query_payout(self, provider_reference: str, request: PayoutRequest) -> ProviderStatus:
        return await self._recorder.call(
            self.name, lambda: self.inner.query_payout(provider_reference, request))

    def parse_callback(self, body: bytes, *, kind: str = "collection") -> CallbackNotice:
        return self.inner.parse_callback(body, kind=kind)  # no outbound call



class RecordedStripeRefunds:
    """Stripe's refund API (the gateway's only outbound Stripe call) with its outcomes
    recorded under ``stripe``."""

    def __init__(self, inner: StripeRefundApi, recorder: ProviderCallRecorder) -> None:
        self.inner = inner
        self._recorder = recorder

    async def create_refund(self, *, payment_intent: str | None, charge: str | None,
                            amount_minor: int, reason: str | None, idempotency_key: str,
                            metadata: Mapping[str, str]) -> RefundAck:
        return await self._recorder.call("stripe", lambda: self.inner.create_refund(
            payment_intent=payment_intent, charge=charge, amount_minor=amount_minor,
            reason=reason, idempotency_key=idempotency_key, metadata=metadata))
