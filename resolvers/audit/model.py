from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AuditAction(StrEnum):
    # FHIR AuditEvent.action codes.
    CREATE = "C"
    READ = "R"
    UPDATE = "U"
    DELETE = "D"
    EXECUTE = "E"


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    NOT_FOUND = "not_found"
    FAILURE = "failure"


@dataclass(frozen=True)
class AuditRecord:
    id: str
    recorded_at: datetime
    subject: str
    roles: tuple[str, ...]
    action: AuditAction
    resource_type: str
    resource_id: str | None
    patient_id: str | None
    outcome: AuditOutcome
    request_id: str
    surface: str
    purpose: str


@dataclass(frozen=True)
class AuditQuery:
    subject: str | None = None
    patient_id: str | None = None
    resource_type: str | None = None
    action: AuditAction | None = None
    outcome: AuditOutcome | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: str | None = None
    limit: int = 50
