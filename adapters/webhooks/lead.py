"""Inbound lead capture from configured sources, each with its own HMAC-SHA256 secret.

Scheme (documented in the OpenAPI description and the README)::

    X-Cari-Lead-Source: <source name>
    X-Cari-Timestamp:   <unix seconds>
    X-Cari-Signature:   sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

The timestamp is inside the signed string and must be within 300 s of our clock, so a
captured request cannot be replayed later. The event id is ``<source>:<Idempotency-Key>``,
or ``<source>:<sha256 of the body>`` without that header.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping

from adapters.webhooks._common import json_object
from resolvers.webhooks.errors import MalformedDelivery, SignatureRejected
from resolvers.webhooks.model import InboundEvent

TOLERANCE_SECONDS = 300
SOURCE_HEADER = "x-cari-lead-source"
TIMESTAMP_HEADER = "x-cari-timestamp"
SIGNATURE_HEADER = "x-cari-signature"
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
_KEY = re.compile(r"^[\x21-\x7e]{1,180}$")


def sign_lead(secret: str, timestamp: int, raw: bytes) -> str:
    """The X-Cari-Signature value for a body (what a lead source computes)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


class LeadVerifier:
    def __init__(self, sources: Mapping[str, str], *, tolerance: int = TOLERANCE_SECONDS,
                 now: Callable[[], float] = time.time) -> None:
        if not sources:
            raise ValueError("at least one lead source is needed")
        self._sources = dict(sources)
        self._tolerance = tolerance
        self._now = now

    def verify(self, raw: bytes, headers: Mapping[str, str]) -> InboundEvent:
        source = headers.get(SOURCE_HEADER, "")
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        signature = headers.get(SIGNATURE_HEADER, "")
        if not (source and timestamp and signature):
            raise SignatureRejected("X-Cari-Lead-Source, X-Cari-Timestamp and X-Cari-Signature "
                                    "are required", reason="missing")
        secret = self._sources.get(source)
        if secret is None:
            raise SignatureRejected("unknown lead source", reason="unknown_source")
        given = _SIGNATURE.match(signature)
        if not timestamp.isdigit() or len(timestamp) > 12 or given is None:
            raise MalformedDelivery("expected X-Cari-Timestamp: <unix seconds> and "
                                    "X-Cari-Signature: sha256=<64 hex digits>",
                                    reason="malformed_header")
        expected = sign_lead(secret, int(timestamp), raw).removeprefix("sha256=")
        if not hmac.compare_digest(expected, given.group(1).lower()):
            raise SignatureRejected("the X-Cari-Signature does not match", reason="bad_signature")
        if abs(self._now() - int(timestamp)) > self._tolerance:
            raise SignatureRejected(f"the X-Cari-Timestamp is more than {self._tolerance} s off",
                                    reason="stale")
        payload = json_object(raw)
        key = headers.get("idempotency-key", "").strip()
        if key and not _KEY.match(key):
            raise MalformedDelivery("Idempotency-Key must be 1 to 180 printable ASCII characters",
                                    reason="malformed_header")
        event_id = f"{source}:{key or hashlib.sha256(raw).hexdigest()}"
        return InboundEvent(provider="lead", event_id=event_id, event_type="lead.captured",
                            payload={"source": source, "lead": payload}, subject_id=source)
