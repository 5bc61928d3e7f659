"""The authenticated status query, for callbacks and the reconciler alike."""

from __future__ import annotations

import logging

from resolvers.payments.context import (
    QUERY_BY_ATTEMPT_KEY,
    PaymentConfig,
    ProviderDirectory,
    collection_request,
    payout_request,
)
from resolvers.payments.model import Direction, Payment
from resolvers.payments.providers import ProviderRejected, ProviderStatus

log = logging.getLogger("cari.payments")


def query_reference(payment: Payment) -> str | None:
    """What the provider knows the payment by; None when it cannot be asked at all."""
    if payment.provider_reference:
        return payment.provider_reference
    if payment.provider in QUERY_BY_ATTEMPT_KEY:
        return payment.attempt_key
    return None


async def query_status(providers: ProviderDirectory, config: PaymentConfig,
                       payment: Payment) -> ProviderStatus | None:
    """The provider's answer; None if it cannot be asked or refused the question.

    ``ProviderUnavailable`` propagates: the caller retries later.
    """
    reference = query_reference(payment)
    provider = providers.find(payment.provider)
    if reference is None or provider is None:
        return None
    try:
        if payment.direction == Direction.PAYOUT:
            return await provider.query_payout(reference, payout_request(payment, config))
        return await provider.query_collection(reference, collection_request(payment, config))
    except ProviderRejected as exc:
        log.warning("payment status query refused", extra={
            "payment_id": payment.id, "provider": payment.provider, "code": exc.code})
        return None
