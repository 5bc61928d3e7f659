"""Deliveries signed with the providers' official SDKs (never hand-made signatures)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import stripe
from livekit.api import AccessToken
from svix.webhooks import Webhook

from adapters.webhooks.lead import sign_lead

STRIPE_SECRET = "whsec_test_primary_0123456789"
STRIPE_OLD_SECRET = "whsec_test_previous_987654321"
LIVEKIT_KEY = "APIk3yTest"
LIVEKIT_SECRET = "livekit-secret-for-tests-0123456789abcdef"
# Svix secrets are base64 after the prefix.
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-test-secret-32-bytes-long").decode()
LEAD_SECRET = "lead-source-secret-0123456789"
WEBHOOK_ENV = {
    "stripe_webhook_secrets": (STRIPE_SECRET, STRIPE_OLD_SECRET),
    "livekit_api_key": LIVEKIT_KEY,
    "livekit_api_secret": LIVEKIT_SECRET,
    "resend_webhook_secret": RESEND_SECRET,
    "lead_sources": (("website", LEAD_SECRET),),
}


def stripe_event(event_type: str = "payment_intent.succeeded", event_id: str | None = None,
                 **obj: Any) -> bytes:
    body = {"id": event_id or f"evt_{uuid.uuid4().hex[:16]}", "object": "event",
            "type": event_type, "created": int(time.time()), "livemode": False,
            "data": {"object": {"id": "pi_3QxA", "object": "payment_intent", "amount": 4500,
                                "currency": "usd", **obj}}}
    return json.dumps(body).encode()


def stripe_headers(raw: bytes, secret: str = STRIPE_SECRET,
                   timestamp: int | None = None) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(raw.decode(), secret,
                                                               timestamp=timestamp)
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


def livekit_event(event: str = "participant_left", event_id: str | None = None) -> bytes:
    return json.dumps({"event": event, "id": event_id or f"EV_{uuid.uuid4().hex[:10]}",
                       "createdAt": str(int(time.time())),
                       "room": {"sid": "RM_t4Xb", "name": "consult-apt_881"},
                       "participant": {"sid": "PA_9Kd", "identity": "clinician-17"}}).encode()


def livekit_headers(raw: bytes, secret: str = LIVEKIT_SECRET, *, signed_body: bytes | None = None,
                    bearer: bool = False) -> dict[str, str]:
    digest = base64.b64encode(hashlib.sha256(signed_body or raw).digest()).decode()
    token = AccessToken(LIVEKIT_KEY, secret).with_sha256(digest).to_jwt()
    return {"Authorization": f"Bearer {token}" if bearer else token,
            "Content-Type": "application/webhook+json"}


def resend_event(event_type: str = "email.bounced", bounce_type: str = "Permanent",
                 to: str = "patient@example.com") -> bytes:
    data: dict[str, Any] = {"email_id": "4ef9a417-02e9-4d39", "to": [to],
                            "from": "Clinic <no-reply@clinic.example.org>",
                            "subject": "Your lab results are ready"}
    if event_type == "email.bounced":
        data["bounce"] = {"type": bounce_type, "subType": "General", "message": "no mailbox"}
    return json.dumps({"type": event_type, "created_at": "2026-03-01T10:21:40.000Z",
                       "data": data}).encode()


def resend_headers(raw: bytes, msg_id: str | None = None, *, secret: str = RESEND_SECRET,
                   at: datetime | None = None) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex[:12]}"
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, raw.decode())
    return {"svix-id": msg_id, "svix-timestamp": str(int(at.timestamp())),
            "svix-signature": signature, "Content-Type": "application/json"}


def lead_body(**over: Any) -> bytes:
    lead = {"name": "Amina Njoroge", "email": "amina@example.org", "organisation": "Kisumu Clinic",
            "country": "KE", "message": "We would like a demo", "consent": True, **over}
    return json.dumps(lead).encode()


def lead_headers(raw: bytes, *, secret: str = LEAD_SECRET, source: str = "website",
                 timestamp: int | None = None, key: str | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {"X-Cari-Lead-Source": source, "X-Cari-Timestamp": str(ts),
               "X-Cari-Signature": sign_lead(secret, ts, raw), "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return headers
