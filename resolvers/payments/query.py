"""The authenticated status query, for callbacks and the reconciler alike."""

from __future__ import annotations

import logging

from resolvers.clock import Clock
from resolvers.payments.config import (
    ASYNC_PAYOUT_STATUS,
    QUERY_BY_ATTEMPT_KEY,
    PaymentConfig,
    ProviderDirectory,
    collection_request,
    payout_request,
)
from resolvers.payments.model import Direction, Payment, new_callback_token
from resolvers.payments.providers import ProviderRejected, ProviderStatus
from resolvers.payments.repository import PaymentsUnitOfWorkFactory

log = logging.getLogger("cari.payments")


def query_reference(payment: Payment) -> str | None:
    """What the provider knows the payment by; None when it cannot be asked at all."""
    if payment.provider_reference:
        return payment.provider_reference
    if payment.provider in QUERY_BY_ATTEMPT_KEY:
        return payment.attempt_key
    return None


async def status_token(uow_factory: PaymentsUnitOfWorkFactory, clock: Clock,
                       payment: Payment) -> str | None:
    """A fresh callback token for a status query answered at the payout's ResultURL (M-Pesa
    B2C: Transaction Status), or None when the query needs none.

    Only the token's hash is stored, so the URLs of the original request cannot be rebuilt;
    the new token replaces the old one (a result posted later to the old URL gets 401, and
    the answer to this query, posted to the new URL, settles the payout instead).
    """
    if payment.direction != Direction.PAYOUT or payment.provider not in ASYNC_PAYOUT_STATUS \
            or query_reference(payment) is None:
        return None
    token, token_hash = new_callback_token()
    async with uow_factory() as uow:
        await uow.payments.update(payment.id, {"callback_token_hash": token_hash,
                                               "updated_at": clock.now()})
        await uow.commit()
    return token


async def query_status(providers: ProviderDirectory, config: PaymentConfig,
                       payment: Payment, token: str | None = None) -> ProviderStatus | None:
    """The provider's answer; None if it cannot be asked or refused the question.

    ``token`` (see :func:`status_token`) builds the payout's result and timeout URLs for a
    provider that posts the answer there. ``ProviderUnavailable`` propagates: the caller
    retries later.
    """
    reference = query_reference(payment)
    provider = providers.find(payment.provider)
    if reference is None or provider is None:
        return None
    try:
        if payment.direction == Direction.PAYOUT:
            return await provider.query_payout(reference,
                                               payout_request(payment, config, token))
        return await provider.query_collection(reference, collection_request(payment, config))
    except ProviderRejected as exc:
        log.warning("payment status query refused", extra={
            "payment_id": payment.id, "provider": payment.provider, "code": exc.code})
        return None
