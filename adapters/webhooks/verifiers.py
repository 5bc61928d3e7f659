"""One verifier per provider whose secret is configured; the others stay refused (503)."""

from __future__ import annotations

from adapters.settings import Settings
from adapters.webhooks.lead import LeadVerifier
from adapters.webhooks.livekit import LiveKitVerifier
from adapters.webhooks.resend import ResendVerifier
from adapters.webhooks.stripe import StripeVerifier
from resolvers.webhooks.ports import WebhookVerifier


def webhook_verifiers(settings: Settings) -> dict[str, WebhookVerifier]:
    verifiers: dict[str, WebhookVerifier] = {}
    if settings.stripe_webhook_secrets:
        verifiers["stripe"] = StripeVerifier(settings.stripe_webhook_secrets)
    if settings.livekit_api_key and settings.livekit_api_secret:
        verifiers["livekit"] = LiveKitVerifier(settings.livekit_api_key,
                                               settings.livekit_api_secret)
    if settings.resend_webhook_secret:
        verifiers["resend"] = ResendVerifier(settings.resend_webhook_secret)
    if settings.lead_sources:
        verifiers["lead"] = LeadVerifier(dict(settings.lead_sources))
    return verifiers
