"""Payments and payouts: the records, their history rows, and the values they are built from.

Amounts are integers in ISO 4217 minor units; currencies are checked against a known list.
A payment's callback token is never stored: only its SHA-256 hash (see ``callback_token``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class PaymentStatus(StrEnum):
    CREATED = "created"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"


OPEN_STATUSES = (PaymentStatus.CREATED, PaymentStatus.PENDING)


class Direction(StrEnum):
    COLLECTION = "collection"  # money in: STK push, request-to-pay, web payment, Stripe
    PAYOUT = "payout"  # money out: M-Pesa B2C, MoMo disbursement


class TransitionSource(StrEnum):
    API = "api"
    CALLBACK = "callback"
    QUERY = "query"
    STRIPE = "stripe"
    RECONCILE = "reconcile"


PROVIDERS = ("mpesa", "mtn_momo", "orange_money", "stripe")

# ISO 4217 codes this gateway may meet (Africa, majors, and Orange's sandbox "OUV").
KNOWN_CURRENCIES = frozenset({
    "AOA", "BIF", "BWP", "CDF", "CVE", "DJF", "DZD", "EGP", "ERN", "ETB", "GHS", "GMD", "GNF",
    "KES", "KMF", "LRD", "LSL", "LYD", "MAD", "MGA", "MRU", "MUR", "MWK", "MZN", "NAD", "NGN",
    "RWF", "SCR", "SDG", "SLE", "SOS", "SSP", "STN", "SZL", "TND", "TZS", "UGX", "XAF", "XOF",
    "ZAR", "ZMW", "ZWG", "USD", "EUR", "GBP", "CHF", "CAD", "AUD", "JPY", "CNY", "INR", "AED",
    "SAR", "OUV",
})
MAX_AMOUNT_MINOR = 10**12


@dataclass(frozen=True)
class Payment:
    id: str
    provider: str
    direction: Direction
    amount_minor: int
    currency: str
    phone_e164: str | None
    reference: str
    description: str
    patient_id: str | None
    status: PaymentStatus
    idempotency_key: str
    request_hash: str  # SHA-256 of the normalised request: same key, other body -> conflict
    attempt_key: str  # uuid4 persisted before the provider call; reused on every retry
    callback_token_hash: str
    provider_reference: str | None
    provider_transaction_id: str | None
    provider_secret_hash: str | None  # e.g. Orange's notif_token, hashed
    redirect_url: str | None
    failure_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    next_check_at: datetime | None  # when the reconciler looks at it next (None: never)
    checks: int = 0  # status queries / re-initiations the reconciler made
    initiated: bool = False  # the provider was (or may have been) sent the request
    refunded_minor: int = 0  # refunded so far (Stripe; full refund: status refunded)


@dataclass(frozen=True)
class PaymentTransition:
    id: str
    payment_id: str
    from_status: PaymentStatus | None  # None for the creation row
    to_status: PaymentStatus
    reason: str
    source: TransitionSource
    at: datetime


@dataclass(frozen=True)
class PaymentQuery:
    provider: str | None = None
    status: PaymentStatus | None = None
    direction: Direction | None = None
    patient_ids: tuple[str, ...] | None = None
    reference: str | None = None
    after: str | None = None  # keyset cursor: ids are time-ordered, newest first
    limit: int = 50


@dataclass(frozen=True)
class PaymentRequest:
    """What a caller asks for (REST body or GraphQL input), before validation."""

    provider: str
    amount_minor: int
    currency: str
    phone: str | None
    reference: str
    country: str | None = None
    patient_id: str | None = None
    description: str = ""
    direction: Direction = Direction.COLLECTION


class DuplicatePayment(Exception):
    """The (created_by, idempotency_key) pair was committed meanwhile by another request."""


def new_callback_token() -> tuple[str, str]:
    """A fresh unguessable token and the hash that is stored in its place."""
    token = secrets.token_urlsafe(32)
    return token, hash_secret(token)


_CALLBACK_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # what secrets.token_urlsafe(32) gives


def looks_like_callback_token(token: str) -> bool:
    """False for a string :func:`new_callback_token` can never have produced."""
    return _CALLBACK_TOKEN.fullmatch(token) is not None


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def secret_matches(value: str, stored_hash: str | None) -> bool:
    return stored_hash is not None and hmac.compare_digest(hash_secret(value), stored_hash)
