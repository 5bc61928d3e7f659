"""The webhook use cases as one bundle on Services."""

from __future__ import annotations

from dataclasses import dataclass

from resolvers.webhooks.admin import WebhookAdmin
from resolvers.webhooks.intake import WebhookIntake


@dataclass(frozen=True)
class WebhookUseCases:
    intake: WebhookIntake
    admin: WebhookAdmin
