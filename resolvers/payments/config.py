"""What every payment use case shares: configuration, the configured providers, URLs, requests.

The callback URL given to a provider is
``{CARI_PUBLIC_BASE_URL}/api/payments/webhooks/{mpesa|mtn-momo|orange-money}?token=<token>``
(payouts add ``&kind=result`` or ``&kind=timeout``). The token is unguessable
(``secrets.token_urlsafe(32)``) and only its SHA-256 hash is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote

from resolvers.errors import InvalidInput
from resolvers.payments.model import Payment
from resolvers.payments.provider_outcomes import ProviderCallRecorder, RecordedProvider
from resolvers.payments.providers import CollectionRequest, PaymentProvider, PayoutRequest

log = logging.getLogger("cari.payments")

CALLBACK_SLUGS = {"mpesa": "mpesa", "mtn_momo": "mtn-momo", "orange_money": "orange-money"}
# Providers whose status query works with our attempt key alone (MoMo's X-Reference-Id), so a
# request whose acknowledgement was lost can still be settled. Others (M-Pesa without a
# CheckoutRequestID, Orange without a pay_token) cannot: such payments expire, never resent.
QUERY_BY_ATTEMPT_KEY = frozenset({"mtn_momo"})
# Providers whose payout status query is answered asynchronously, at the payout's ResultURL
# (M-Pesa's Transaction Status API): the query must carry working callback URLs.
ASYNC_PAYOUT_STATUS = frozenset({"mpesa"})


@dataclass(frozen=True)
class PaymentConfig:
    public_base_url: str = "http://127.0.0.1:8000"
    collection_timeout_seconds: float = 300.0  # the customer has this long to approve
    payout_timeout_seconds: float = 3600.0
    first_check_seconds: float = 30.0  # first status query of a pending payment (MoMo poller)
    max_check_interval_seconds: float = 600.0
    retry_seconds: float = 10.0  # re-sending a request that surely never reached the provider
    unresolved_grace_seconds: float = 86400.0  # pending past expiry + this: expired

    def callback_url(self, provider: str, token: str, kind: str | None = None) -> str:
        url = (f"{self.public_base_url}/api/payments/webhooks/{CALLBACK_SLUGS[provider]}"
               f"?token={quote(token)}")
        return url + (f"&kind={kind}" if kind else "")

    def next_check(self, now: datetime, checks: int) -> datetime:
        delay = min(self.max_check_interval_seconds,
                    self.first_check_seconds * 2.0 ** max(0, checks))
        return now + timedelta(seconds=delay)


@dataclass
class ProviderDirectory:
    """The configured providers, built with them by the composition root. ``use`` swaps
    them: a seam for tests that put in-memory providers in place of the real ones. With a
    ``recorder``, every provider handed out records its calls' outcomes (health page)."""

    providers: dict[str, PaymentProvider] = field(default_factory=dict)
    recorder: ProviderCallRecorder | None = None

    def use(self, providers: Mapping[str, PaymentProvider]) -> None:
        self.providers = dict(providers)

    def get(self, name: str) -> PaymentProvider:
        provider = self.find(name)
        if provider is None:
            raise InvalidInput(f"payment provider {name!r} is not configured on this gateway",
                               details=[{"field": "provider", "message": "not configured"}])
        return provider

    def find(self, name: str) -> PaymentProvider | None:
        provider = self.providers.get(name)
        if provider is None or self.recorder is None:
            return provider
        return RecordedProvider(provider, self.recorder)

    def configured(self) -> frozenset[str]:
        return frozenset(self.providers)


def collection_request(payment: Payment, config: PaymentConfig,
                       token: str | None = None) -> CollectionRequest:
    """The request as sent to the provider (``token`` only when it is sent again)."""
    return CollectionRequest(
        payment_id=payment.id, attempt_key=payment.attempt_key,
        amount_minor=payment.amount_minor, currency=payment.currency,
        phone_e164=payment.phone_e164, reference=payment.reference,
        description=payment.description or payment.reference,
        callback_url=config.callback_url(payment.provider, token) if token else "")


def payout_request(payment: Payment, config: PaymentConfig,
                   token: str | None = None) -> PayoutRequest:
    return PayoutRequest(
        payout_id=payment.id, attempt_key=payment.attempt_key,
        amount_minor=payment.amount_minor, currency=payment.currency,
        phone_e164=payment.phone_e164 or "", reference=payment.reference,
        description=payment.description or payment.reference,
        result_url=config.callback_url(payment.provider, token, "result") if token else "",
        timeout_url=config.callback_url(payment.provider, token, "timeout") if token else "")
