"""Resend (delivered by Svix): ``svix-id``/``svix-timestamp``/``svix-signature`` checked by the
svix SDK (5 minutes tolerance both ways). The event id is ``svix-id``: stable across retries."""

from __future__ import annotations

from collections.abc import Mapping

from svix.webhooks import Webhook, WebhookVerificationError

from adapters.webhooks._common import json_object, nested, short
from resolvers.webhooks.errors import MalformedDelivery, SignatureRejected
from resolvers.webhooks.model import InboundEvent


class ResendVerifier:
    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)  # raises on an empty or non-base64 secret

    def verify(self, raw: bytes, headers: Mapping[str, str]) -> InboundEvent:
        lowered = {k.lower(): v for k, v in headers.items()}
        msg_id = lowered.get("svix-id") or lowered.get("webhook-id") or ""
        try:
            self._webhook.verify(raw, lowered)
        except WebhookVerificationError as exc:
            message = str(exc)
            if "Missing" in message:
                raise SignatureRejected("the svix-id, svix-timestamp and svix-signature headers "
                                        "are required", reason="missing") from None
            if "too old" in message or "too new" in message:
                raise SignatureRejected("the svix-timestamp is more than 5 minutes off",
                                        reason="stale") from None
            if "Invalid Signature Headers" in message:
                raise MalformedDelivery("the svix-timestamp is not a number",
                                        reason="malformed_header") from None
            raise SignatureRejected("no svix-signature matches", reason="bad_signature") from None
        except ValueError:  # a signature entry without "v1,", bad base64, or a non-UTF-8 body
            raise MalformedDelivery("the svix-signature header or the body cannot be parsed",
                                    reason="malformed_header") from None
        payload = json_object(raw)
        event_type = payload.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise MalformedDelivery("a Resend event needs a type", reason="malformed_body")
        return InboundEvent(provider="resend", event_id=msg_id[:255], event_type=event_type[:128],
                            payload=payload, subject_id=short(nested(payload, "data", "email_id"),
                                                              64))
