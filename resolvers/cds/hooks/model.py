"""What the CDS Hooks use cases take and keep: a validated hook request, the cards issued
(so feedback can be checked against them), the feedback entries, and the expected failures.

Errors name the request field at fault (``details.field``); the REST surface renders them as
an OperationOutcome whose issue ``expression`` is that field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from resolvers.errors import DomainError

PATIENT_VIEW = "patient-view"
ORDER_SELECT = "order-select"
ORDER_SIGN = "order-sign"


class BadHookRequest(DomainError):
    """The request or feedback body breaks the specification: 400, naming the field."""

    code = "bad_request"

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}", details={"field": field_name})
        self.field = field_name


class UnknownService(DomainError):
    code = "not_found"


class UnknownCard(DomainError):
    """Feedback about a card this service did not issue (or whose record expired)."""

    code = "not_found"

    def __init__(self, field_name: str, message: str, card: str) -> None:
        super().__init__(f"{field_name}: {message}", details={"field": field_name})
        self.card = card


class PreconditionFailed(DomainError):
    """Data the service needs was neither prefetched nor readable (CDS Hooks 2.0: 412)."""

    code = "precondition_failed"


class DataUnavailable(Exception):
    """A FHIR server could not be read (refused address, no answer, an error status)."""


@dataclass(frozen=True)
class CdsConfig:
    base_url: str  # the gateway's public base URL (card source fallback, JWT audiences)
    card_seconds: int = 7 * 86_400  # how long an issued card may receive feedback
    lab_lookback: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class FhirAuthorization:
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 (the OAuth token type, not a secret)
    scope: str = ""
    subject: str = ""
    patient: str | None = None
    expires_in: int | None = None


@dataclass(frozen=True)
class HookRequest:
    service_id: str
    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any] = field(default_factory=dict)
    fhir_server: str | None = None
    fhir_authorization: FhirAuthorization | None = None

    @property
    def patient_id(self) -> str | None:
        value = self.context.get("patientId")
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class IssuedCard:
    """A card as kept for feedback: what a feedback entry may name about it."""

    uuid: str
    service_id: str
    hook: str
    hook_instance: str
    patient_id: str | None
    suggestions: tuple[str, ...]  # the suggestions' uuids
    override_reasons: tuple[tuple[str, str], ...]  # (system, code) of each override reason
    issued_by: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class FeedbackEntry:
    id: str
    card_uuid: str
    service_id: str
    patient_id: str | None
    outcome: str  # accepted | overridden
    accepted_suggestions: tuple[str, ...] | None
    override_reason: Mapping[str, Any] | None  # {"reason": Coding, "userComment": str}
    outcome_timestamp: datetime
    received_by: str
    received_at: datetime
