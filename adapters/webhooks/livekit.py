"""LiveKit: the JWT in ``Authorization`` (HS256 with the API secret, ``sha256`` claim = body
hash) checked by livekit-api's WebhookReceiver over the raw body."""

from __future__ import annotations

from collections.abc import Mapping

import jwt
from google.protobuf.json_format import ParseError
from livekit.api import TokenVerifier, WebhookReceiver

from adapters.webhooks._common import decode_utf8, json_object, nested, short
from resolvers.webhooks.errors import MalformedDelivery, SignatureRejected
from resolvers.webhooks.model import InboundEvent


class LiveKitVerifier:
    def __init__(self, api_key: str, api_secret: str) -> None:
        if not api_key or not api_secret:
            raise ValueError("the LiveKit API key and secret are needed")
        self._receiver = WebhookReceiver(TokenVerifier(api_key, api_secret))

    def verify(self, raw: bytes, headers: Mapping[str, str]) -> InboundEvent:
        token = headers.get("authorization", "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            raise SignatureRejected("the Authorization token is missing", reason="missing")
        body = decode_utf8(raw)
        try:
            event = self._receiver.receive(body, token)
        except jwt.ExpiredSignatureError:
            raise SignatureRejected("the webhook token has expired", reason="stale") from None
        except jwt.InvalidSignatureError:  # a DecodeError subclass: check it first
            raise SignatureRejected("the webhook token is not signed with our API secret",
                                    reason="bad_signature") from None
        except jwt.DecodeError:
            raise MalformedDelivery("the Authorization token is not a JWT",
                                    reason="malformed_header") from None
        except jwt.InvalidTokenError:
            raise SignatureRejected("the webhook token is not valid for this API key",
                                    reason="bad_signature") from None
        except ParseError:  # authentic, but not a WebhookEvent
            raise MalformedDelivery("the body is not a LiveKit WebhookEvent",
                                    reason="malformed_body") from None
        except Exception:  # "hash mismatch", "sha256 was not found in the token"
            raise SignatureRejected("the body does not match the token's sha256 claim",
                                    reason="bad_signature") from None
        if not event.id or not event.event:
            raise MalformedDelivery("a LiveKit event needs an id and an event name",
                                    reason="malformed_body")
        payload = json_object(body)
        subject = short(nested(payload, "room", "sid"), 64)
        return InboundEvent(provider="livekit", event_id=event.id[:255],
                            event_type=event.event[:128], payload=payload, subject_id=subject)
