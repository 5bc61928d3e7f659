"""SQLModel tables of WhatsApp patient messaging (migration 0017 creates them; keep in sync).

Phones are stored in E.164. Message parameters are stored because the sender needs them;
they may hold a patient's name, so the table is as sensitive as the patients table and none
of it is logged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from adapters.db.types import JsonDocument, UTCDateTime


def _ts(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class WhatsAppTemplateRow(SQLModel, table=True):
    __tablename__ = "whatsapp_templates"
    __table_args__ = (UniqueConstraint("name", "language", name="uq_whatsapp_templates_name"),)

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=512)
    language: str = Field(max_length=16)
    status: str = Field(max_length=16)  # APPROVED, PENDING, REJECTED, PAUSED, DISABLED
    category: str = Field(max_length=32)
    body: str = Field(max_length=4096)
    header: str | None = Field(default=None, max_length=1024)
    buttons: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    body_params: int = 0
    header_params: int = 0
    synced_at: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts()


class WhatsAppConsentRow(SQLModel, table=True):
    """The current consent of a (phone, patient); patient_id "" is the phone's own (keywords)."""

    __tablename__ = "whatsapp_consents"

    phone: str = Field(primary_key=True, max_length=20)
    patient_id: str = Field(primary_key=True, max_length=64)
    state: str = Field(max_length=16)  # opted_in | opted_out
    source: str = Field(max_length=32)
    updated_at: datetime = _ts()


class WhatsAppConsentEventRow(SQLModel, table=True):
    __tablename__ = "whatsapp_consent_events"
    __table_args__ = (Index("ix_whatsapp_consent_events_phone", "phone", "at"),)

    id: str = Field(primary_key=True, max_length=36)
    phone: str = Field(max_length=20)
    patient_id: str = Field(max_length=64)
    state: str = Field(max_length=16)
    source: str = Field(max_length=32)  # api, keyword, inbound
    actor: str = Field(max_length=200)
    at: datetime = _ts()


class WhatsAppWindowRow(SQLModel, table=True):
    """The last inbound message per phone: the 24-hour customer service window."""

    __tablename__ = "whatsapp_windows"

    phone: str = Field(primary_key=True, max_length=20)
    last_inbound_at: datetime = _ts()


class WhatsAppMessageRow(SQLModel, table=True):
    __tablename__ = "whatsapp_messages"
    __table_args__ = (
        UniqueConstraint("key", name="uq_whatsapp_messages_key"),
        UniqueConstraint("wamid", name="uq_whatsapp_messages_wamid"),
        Index("ix_whatsapp_messages_due", "status", "next_attempt_at"),
        Index("ix_whatsapp_messages_patient", "patient_id", "id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    key: str = Field(max_length=300)
    purpose: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # template | text
    patient_id: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=20)
    template_name: str | None = Field(default=None, max_length=512)
    language: str | None = Field(default=None, max_length=16)
    content: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    requires_consent: bool = True
    status: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=500)
    error_code: int | None = None
    send_at: datetime = _ts()
    next_attempt_at: datetime = _ts()
    attempts: int = 0
    claim_token: str | None = Field(default=None, max_length=36)
    lease_until: datetime | None = _ts(nullable=True)
    wamid: str | None = Field(default=None, max_length=128)
    status_at: datetime | None = _ts(nullable=True)  # the provider's timestamp of `status`
    created_by: str = Field(max_length=200)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
