"""The configured payment providers, built on the app's shared HTTP client.

``app.py`` calls :func:`build_payment_providers` in its lifespan; a provider is present only
when its ``CARI_*`` group is complete (see :mod:`adapters.settings.payments`).
"""

from __future__ import annotations

import httpx

from adapters.payments.mpesa.client import MpesaProvider
from adapters.payments.mtn_momo.client import MomoProvider
from adapters.payments.orange_money.client import OrangeMoneyProvider
from adapters.settings import Settings
from resolvers.payments.providers import PaymentProvider


def build_payment_providers(settings: Settings,
                            client: httpx.AsyncClient) -> dict[str, PaymentProvider]:
    """``{"mpesa": ..., "mtn_momo": ..., "orange_money": ...}``, the configured ones only."""
    configured = settings.payment_providers
    providers: dict[str, PaymentProvider] = {}
    if configured.mpesa is not None:
        providers["mpesa"] = MpesaProvider(client, configured.mpesa)
    if configured.mtn_momo is not None:
        providers["mtn_momo"] = MomoProvider(client, configured.mtn_momo)
    if configured.orange_money is not None:
        providers["orange_money"] = OrangeMoneyProvider(client, configured.orange_money)
    return providers
