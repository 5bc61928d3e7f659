"""SQLModel tables of the inbound webhook inbox (migration 0006 creates them; keep in sync)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from adapters.db.types import JsonDocument, UTCDateTime


def _ts(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class WebhookEventRow(SQLModel, table=True):
    """One verified provider event; (provider, event id) is unique so redeliveries dedupe."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id", name="uq_webhook_events_provider_event"),
        Index("ix_webhook_events_status", "status", "id"),
        Index("ix_webhook_events_subject", "subject_id"),
        Index("ix_webhook_events_received", "received_at", "id"),  # the message log's pages
        Index("ix_webhook_events_event", "event_id"),  # the log's search by event id alone
    )

    id: str = Field(primary_key=True, max_length=36)
    provider: str = Field(max_length=32)
    event_id: str = Field(max_length=255)
    event_type: str = Field(max_length=128)
    subject_id: str | None = Field(default=None, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict,
                                    sa_column=Column(JsonDocument, nullable=False))
    status: str = Field(max_length=16)  # received | processed | failed | dead | ignored
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    received_at: datetime = _ts()
    processed_at: datetime | None = _ts(nullable=True)


class EmailSuppressionRow(SQLModel, table=True):
    """An address we must not email again (permanent bounce or complaint). Personal data."""

    __tablename__ = "email_suppressions"

    address: str = Field(primary_key=True, max_length=320)
    reason: str = Field(max_length=32)  # bounced | complained
    webhook_event_id: str = Field(max_length=36)
    created_at: datetime = _ts()


class LeadRow(SQLModel, table=True):
    """A lead captured by a signed inbound form post; one per webhook event."""

    __tablename__ = "leads"
    __table_args__ = (UniqueConstraint("webhook_event_id", name="uq_leads_webhook_event"),)

    id: str = Field(primary_key=True, max_length=36)
    webhook_event_id: str = Field(max_length=36)
    source: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=32)
    organisation: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, max_length=2)
    message: str | None = Field(default=None, max_length=2000)
    consent: bool = False
    created_at: datetime = _ts()
