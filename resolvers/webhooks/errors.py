"""Why a delivery was refused before anything was stored."""

from __future__ import annotations

from resolvers.errors import DomainError


class SignatureRejected(DomainError):
    """Missing, forged or stale signature: 401."""

    code = "unauthenticated"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # a short label for the metric: bad_signature, stale, missing


class MalformedDelivery(DomainError):
    """A signature header or body that cannot be parsed: 400."""

    code = "bad_request"

    def __init__(self, message: str, *, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


class ProviderNotConfigured(DomainError):
    """No secret for this provider: never accept unsigned deliveries. 404: the route is not
    served here (a 5xx would tell the provider to retry, and would page an operator)."""

    code = "not_found"
