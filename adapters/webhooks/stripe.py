"""Stripe: ``Stripe-Signature`` checked by the official SDK, trying each configured secret.

During a secret roll Stripe signs each event with the old and the new secret (one ``v1``
per secret); we accept the event when any configured secret verifies it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import stripe

from adapters.webhooks._common import decode_utf8, json_object, nested, short
from resolvers.webhooks.errors import MalformedDelivery, SignatureRejected
from resolvers.webhooks.model import InboundEvent

TOLERANCE_SECONDS = 300


class StripeVerifier:
    def __init__(self, secrets: Sequence[str], *, tolerance: int = TOLERANCE_SECONDS) -> None:
        if not secrets:
            raise ValueError("at least one Stripe webhook secret is needed")
        self._secrets = tuple(secrets)
        self._tolerance = tolerance

    def verify(self, raw: bytes, headers: Mapping[str, str]) -> InboundEvent:
        header = headers.get("stripe-signature", "")
        if not header:
            raise SignatureRejected("the Stripe-Signature header is missing", reason="missing")
        text = decode_utf8(raw)
        reasons: set[str] = set()
        for secret in self._secrets:
            try:
                # The signature only: construct_event would also json.loads the body with no
                # depth bound and build SDK objects from it; the gateway's rule decodes instead.
                stripe.WebhookSignature.verify_header(text, header, secret, self._tolerance)
            except stripe.SignatureVerificationError as exc:
                reasons.add(_reason(str(exc)))
                continue
            payload = json_object(text)  # the same bytes the signature covers
            return _inbound(payload.get("id"), payload.get("type"), payload)
        if "malformed_header" in reasons:
            raise MalformedDelivery("the Stripe-Signature header cannot be parsed",
                                    reason="malformed_header")
        if "stale" in reasons:
            raise SignatureRejected("the Stripe-Signature timestamp is older than "
                                    f"{self._tolerance} s", reason="stale")
        raise SignatureRejected("no Stripe-Signature v1 signature matches", reason="bad_signature")


def _reason(message: str) -> str:
    if message.startswith("Unable to extract"):
        return "malformed_header"
    if "tolerance" in message:
        return "stale"
    return "bad_signature"


def _inbound(event_id: object, event_type: object, payload: dict[str, object]) -> InboundEvent:
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        raise MalformedDelivery("a Stripe event needs a string id and type",
                                reason="malformed_body")
    # Our payment id when the object carries it (metadata.payment_id), else Stripe's id.
    subject = (short(nested(payload, "data", "object", "metadata", "payment_id"), 64)
               or short(nested(payload, "data", "object", "id"), 64))
    return InboundEvent(provider="stripe", event_id=event_id[:255], event_type=event_type[:128],
                        payload=payload, subject_id=subject)
