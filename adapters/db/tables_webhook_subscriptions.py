"""SQLModel tables of outbound webhook subscriptions (migration 0016 creates them; keep in
sync). Endpoint secrets are stored as they are: they are HMAC keys the gateway signs with,
so a hash would not do; the database is as sensitive as the secrets it holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from adapters.db.types import JsonDocument, UTCDateTime


def _ts(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class WebhookEndpointRow(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"

    id: str = Field(primary_key=True, max_length=64)
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    resource_types: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    description: str = Field(max_length=500)
    enabled: bool = True
    secret: str = Field(max_length=128)
    previous_secret: str | None = Field(default=None, max_length=128)
    previous_secret_expires_at: datetime | None = _ts(nullable=True)
    disabled_reason: str | None = Field(default=None, max_length=500)
    failing_since: datetime | None = _ts(nullable=True)
    managed_by_settings: bool = False
    created_by: str = Field(max_length=200)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class OutboundEventRow(SQLModel, table=True):
    """An event as sent: stored once, whatever the number of endpoints."""

    __tablename__ = "webhook_outbound_events"

    id: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=64)
    version: int
    occurred_at: datetime = _ts()
    data: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    resource_type: str | None = Field(default=None, max_length=64)


class WebhookDeliveryRow(SQLModel, table=True):
    """One event to one endpoint: its state over every attempt and replay."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
        # The console's failures page: the newest failed deliveries (migration 0019).
        Index("ix_webhook_deliveries_status", "status", "updated_at"),
    )

    id: str = Field(primary_key=True, max_length=64)
    endpoint_id: str = Field(max_length=64)
    event_id: str = Field(max_length=64)
    event_type: str = Field(max_length=64)
    status: str = Field(max_length=16)
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class WebhookAttemptRow(SQLModel, table=True):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "attempted_at"),)

    id: str = Field(primary_key=True, max_length=64)
    delivery_id: str = Field(max_length=64)
    endpoint_id: str = Field(max_length=64)
    attempted_at: datetime = _ts()
    status_code: int | None = None
    duration_ms: float
    response_excerpt: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error: str | None = Field(default=None, max_length=500)
