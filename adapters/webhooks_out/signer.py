"""Standard Webhooks signatures (the ``standardwebhooks`` package signs; ``svix`` verifies
the same scheme in the tests) and ``whsec_`` secrets."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes


class StandardWebhooksSigner:
    def signature(self, secrets_: Sequence[str], message_id: str, at: datetime,
                  body: bytes) -> str:
        # Several signatures, space-separated: a verifier accepts any one (rotation).
        return " ".join(Webhook(s).sign(message_id, at, body) for s in secrets_)

    def new_secret(self) -> str:
        return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")
