"""SQLModel tables. Alembic migrations (adapters/db/migrations) create them; keep in sync."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Index, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from adapters.db.types import JsonDocument, UTCDateTime


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class OrganizationRow(SQLModel, table=True):
    __tablename__ = "organizations"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(index=True, max_length=200)
    identifiers: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JsonDocument, nullable=False))
    country: str | None = Field(default=None, max_length=2)
    kind: str | None = Field(default=None, max_length=64)
    version: int = 1
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    part_of: str | None = Field(default=None, max_length=36, index=True)


class PatientRow(SQLModel, table=True):
    __tablename__ = "patients"

    id: str = Field(primary_key=True, max_length=36)
    family: str | None = Field(default=None, max_length=200, index=True)
    given: list[str] = Field(default_factory=list, sa_column=Column(JsonDocument, nullable=False))
    birth_date: date | None = None
    gender: str | None = Field(default=None, max_length=16)
    phone: str | None = Field(default=None, max_length=32)
    organization_id: str | None = Field(
        default=None, foreign_key="organizations.id", index=True, max_length=36)
    version: int = 1
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class PatientIdentifierRow(SQLModel, table=True):
    """One row per identifier so that lookup by (system, value) is an index probe."""

    __tablename__ = "patient_identifiers"

    system: str = Field(primary_key=True, max_length=200)
    value: str = Field(primary_key=True, max_length=200)
    patient_id: str = Field(foreign_key="patients.id", index=True, max_length=36)
    position: int = 0


class AuditEventRow(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_patient_time", "patient_id", "recorded_at"),)

    id: str = Field(primary_key=True, max_length=36)
    recorded_at: datetime = _ts(index=True)
    subject: str = Field(index=True, max_length=200)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JsonDocument, nullable=False))
    action: str = Field(max_length=1)
    resource_type: str = Field(max_length=64)
    resource_id: str | None = Field(default=None, max_length=64)
    patient_id: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=16)
    request_id: str = Field(max_length=128)
    surface: str = Field(max_length=16)
    purpose: str = Field(default="", max_length=200)


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("destination", "idempotency_key", name="uq_outbox_destination_key"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # The console's health page (migration 0019).
        Index("ix_outbox_destination_delivered", "destination", "status", "delivered_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    destination: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonDocument, nullable=False))
    idempotency_key: str = Field(sa_column=Column(String(255), nullable=False))
    status: str = Field(max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _ts()
    lease_until: datetime | None = _ts(nullable=True)
    claim_token: str | None = Field(default=None, max_length=36)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()
    delivered_at: datetime | None = _ts(nullable=True)


class FhirResourceRow(SQLModel, table=True):
    """The current version of every FHIR resource, as a JSON document."""

    __tablename__ = "fhir_resources"
    __table_args__ = (Index("ix_fhir_resources_type_updated", "resource_type", "last_updated"),
                      Index("ix_fhir_resources_type_sort_date", "resource_type", "sort_date"))

    resource_type: str = Field(primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=64)
    version_id: int
    last_updated: datetime = _ts()
    deleted: bool = False
    sort_date: datetime | None = _ts(nullable=True)
    document: dict[str, Any] = Field(default_factory=dict,
                                     sa_column=Column(JsonDocument, nullable=False))
    # An Observation's flattened lab view (resolvers.labs.view), written with its document;
    # NULL for other types and for rows written before it existed (migration 0022).
    lab_view: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class FhirResourceVersionRow(SQLModel, table=True):
    """Every version ever written (vread and _history)."""

    __tablename__ = "fhir_resource_versions"

    resource_type: str = Field(primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=64)
    version_id: int = Field(primary_key=True)
    last_updated: datetime = _ts()
    deleted: bool = False
    document: dict[str, Any] = Field(default_factory=dict,
                                     sa_column=Column(JsonDocument, nullable=False))


class FhirSearchIndexRow(SQLModel, table=True):
    """Extracted search values: tokens, strings, references and date ranges."""

    __tablename__ = "fhir_search_index"
    __table_args__ = (
        Index("ix_fhir_search_value", "resource_type", "param", "value"),
        Index("ix_fhir_search_resource", "resource_type", "resource_id"),
        # Partial: only date rows. A full index on (resource_type, param, date_lo) shares its
        # leading columns with ix_fhir_search_value, and PostgreSQL took it for identifier
        # lookups (filtering every identifier row) when its statistics lagged behind inserts.
        Index("ix_fhir_search_date", "resource_type", "param", "date_lo",
              postgresql_where=text("date_lo IS NOT NULL"),
              sqlite_where=text("date_lo IS NOT NULL")),
    )

    pk: int | None = Field(default=None, primary_key=True)
    resource_type: str = Field(max_length=64)
    resource_id: str = Field(max_length=64)
    param: str = Field(max_length=64)
    system: str | None = Field(default=None, max_length=255)
    value: str | None = Field(default=None, max_length=255)
    date_lo: datetime | None = _ts(nullable=True)
    date_hi: datetime | None = _ts(nullable=True)


class LabResultRow(SQLModel, table=True):
    """One received ORU^R01 message and what became of it; (facility, control id) is unique."""

    __tablename__ = "lab_results"
    __table_args__ = (
        UniqueConstraint("sending_facility", "control_id", name="uq_lab_results_message"),
        Index("ix_lab_results_patient", "patient_id", "received_at"),
        # The message log's pages and (with channel) the overview's counts, index-only.
        Index("ix_lab_results_received", "received_at", "id", "channel"),
        Index("ix_lab_results_control", "control_id"),  # the log's search by control id
    )

    id: str = Field(primary_key=True, max_length=36)
    sending_facility: str = Field(max_length=200)
    control_id: str = Field(max_length=200)
    received_at: datetime = _ts()
    patient_id: str | None = Field(default=None, max_length=64)
    match_grade: str = Field(max_length=16)
    match_score: float = 0.0
    encounter_id: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)  # linked | review | unmatched
    observations_created: int = 0
    critical_count: int = 0
    report_ids: list[str] = Field(default_factory=list,
                                  sa_column=Column(JsonDocument, nullable=False))
    observation_ids: list[str] = Field(default_factory=list,
                                       sa_column=Column(JsonDocument, nullable=False))
    raw_message: str = Field(sa_column=Column(String(), nullable=False))
    channel: str = Field(default="hl7-http", max_length=16)  # hl7-http | hl7-mllp | hl7-graphql


class LabMessageConflictRow(SQLModel, table=True):
    """A message refused because its control id was already used for different content."""

    __tablename__ = "lab_message_conflicts"
    __table_args__ = (Index("ix_lab_message_conflicts_message", "sending_facility",
                            "control_id"),
                      Index("ix_lab_message_conflicts_received", "received_at", "id"))

    id: str = Field(primary_key=True, max_length=36)
    sending_facility: str = Field(max_length=200)
    control_id: str = Field(max_length=200)
    first_result_id: str = Field(max_length=36)
    received_at: datetime = _ts()
    received_by: str = Field(max_length=200)
    raw_message: str = Field(sa_column=Column(String(), nullable=False))


class MpiReviewTaskRow(SQLModel, table=True):
    """A probable or possible match waiting for a person to link or reject it."""

    __tablename__ = "mpi_review_tasks"
    __table_args__ = (Index("ix_mpi_review_status", "status", "created_at"),)

    id: str = Field(primary_key=True, max_length=36)
    lab_result_id: str = Field(max_length=36, index=True)
    candidate_patient_id: str = Field(max_length=64)
    grade: str = Field(max_length=16)
    score: float = 0.0
    field_scores: dict[str, Any] = Field(default_factory=dict,
                                         sa_column=Column(JsonDocument, nullable=False))
    status: str = Field(max_length=16)  # open | linked | rejected
    created_at: datetime = _ts()
    resolved_at: datetime | None = _ts(nullable=True)
    resolved_by: str | None = Field(default=None, max_length=200)


class LabAlertRow(SQLModel, table=True):
    """A critical result that must reach the ordering clinician."""

    __tablename__ = "lab_alerts"
    __table_args__ = (Index("ix_lab_alerts_patient", "patient_id", "created_at"),
                      Index("ix_lab_alerts_open", "acknowledged_at", "escalation_level"))

    id: str = Field(primary_key=True, max_length=36)
    lab_result_id: str = Field(max_length=36, index=True)
    observation_id: str | None = Field(default=None, max_length=64)
    patient_id: str | None = Field(default=None, max_length=64)
    code: str = Field(max_length=64)
    value: str = Field(max_length=200)
    direction: str | None = Field(default=None, max_length=16)
    reason: str = Field(max_length=500)
    recipient: str = Field(max_length=200)
    created_at: datetime = _ts()
    acknowledged_at: datetime | None = _ts(nullable=True)
    acknowledged_by: str | None = Field(default=None, max_length=200)
    delivery_status: str = Field(default="pending", max_length=16)
    escalation_level: int = Field(default=0)
    escalated_at: datetime | None = _ts(nullable=True)
    candidates: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JsonDocument, nullable=False))


class MpiMatchRecordRow(SQLModel, table=True):
    """The normalised demographics the patient matcher compares (derived from patients)."""

    __tablename__ = "mpi_match_records"

    patient_id: str = Field(primary_key=True, max_length=64)
    record: dict[str, Any] = Field(default_factory=dict,
                                   sa_column=Column(JsonDocument, nullable=False))


class MpiBlockingKeyRow(SQLModel, table=True):
    """Blocking keys: a lookup reads only the patients that share a key with the candidate."""

    __tablename__ = "mpi_blocking_keys"
    __table_args__ = (Index("ix_mpi_blocking_keys_patient", "patient_id"),)

    key: str = Field(primary_key=True, max_length=64)
    patient_id: str = Field(primary_key=True, max_length=64)


class MpiMatchParametersRow(SQLModel, table=True):
    """Fellegi-Sunter parameters (m/u per field level, prior), as estimated by EM."""

    __tablename__ = "mpi_match_parameters"

    name: str = Field(primary_key=True, max_length=64)
    document: dict[str, Any] = Field(default_factory=dict,
                                     sa_column=Column(JsonDocument, nullable=False))
    updated_at: datetime = _ts()


class MpiLinkRow(SQLModel, table=True):
    """Why a lab result was attached to a patient (score per field), and whether it was undone."""

    __tablename__ = "mpi_links"
    __table_args__ = (Index("ix_mpi_links_patient", "patient_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=36)
    lab_result_id: str = Field(max_length=36, index=True)
    patient_id: str = Field(max_length=64)
    method: str = Field(max_length=16)  # auto | review
    grade: str = Field(max_length=16)
    score: float = 0.0
    field_scores: dict[str, Any] = Field(default_factory=dict,
                                         sa_column=Column(JsonDocument, nullable=False))
    review_task_id: str | None = Field(default=None, max_length=36)
    created_at: datetime = _ts()
    created_by: str = Field(max_length=200)
    undone_at: datetime | None = _ts(nullable=True)
    undone_by: str | None = Field(default=None, max_length=200)
    undo_reason: str | None = Field(default=None, max_length=500)


from adapters.db import tables_cds as _tables_cds  # noqa: E402,F401  (registers tables)
from adapters.db import tables_imaging as _tables_imaging  # noqa: E402,F401  (registers tables)
from adapters.db import tables_messaging as _tables_messaging  # noqa: E402,F401  (registers tables)
from adapters.db import tables_outbox_pauses as _tables_outbox_pauses  # noqa: E402,F401  (registers tables)
from adapters.db import tables_payments as _tables_payments  # noqa: E402,F401  (registers tables)
from adapters.db import tables_public_health as _tables_public_health  # noqa: E402,F401  (registers tables)
from adapters.db import tables_refused as _tables_refused  # noqa: E402,F401  (registers tables)
from adapters.db import tables_smart as _tables_smart  # noqa: E402,F401  (registers tables)
from adapters.db import tables_stripe as _tables_stripe  # noqa: E402,F401  (registers tables)
from adapters.db import tables_webhook_subscriptions as _tables_webhook_subscriptions  # noqa: E402,F401  (registers tables)
from adapters.db import tables_webhooks as _tables_webhooks  # noqa: E402,F401  (registers tables)
