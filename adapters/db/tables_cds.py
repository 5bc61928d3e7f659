"""SQLModel tables of CDS Hooks (migration 0014 creates them; keep in sync)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from adapters.db.types import JsonDocument, UTCDateTime


def _ts(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class CdsCardRow(SQLModel, table=True):
    """A card the gateway issued: what feedback about it may name (its suggestions' uuids,
    its override reasons), kept until ``expires_at``."""

    __tablename__ = "cds_cards"
    __table_args__ = (Index("ix_cds_cards_expires", "expires_at"),)

    uuid: str = Field(primary_key=True, max_length=36)
    service_id: str = Field(max_length=100)
    hook: str = Field(max_length=64)
    hook_instance: str = Field(max_length=200)
    patient_id: str | None = Field(default=None, max_length=200)
    suggestions: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    override_reasons: list[dict[str, Any]] = Field(sa_column=Column(JsonDocument,
                                                                    nullable=False))
    issued_by: str = Field(max_length=200)
    issued_at: datetime = _ts()
    expires_at: datetime = _ts()


class CdsFeedbackRow(SQLModel, table=True):
    """One feedback entry: a card accepted (which suggestions) or overridden (why)."""

    __tablename__ = "cds_feedback"
    __table_args__ = (Index("ix_cds_feedback_card", "card_uuid"),)

    id: str = Field(primary_key=True, max_length=36)
    card_uuid: str = Field(max_length=36)
    service_id: str = Field(max_length=100)
    patient_id: str | None = Field(default=None, max_length=200)
    outcome: str = Field(max_length=16)
    accepted_suggestions: list[str] | None = Field(default=None, sa_column=Column(
        JsonDocument, nullable=True))
    override_reason: dict[str, Any] | None = Field(default=None, sa_column=Column(
        JsonDocument, nullable=True))
    outcome_timestamp: datetime = _ts()
    received_by: str = Field(max_length=200)
    received_at: datetime = _ts()


class CdsJwtIdRow(SQLModel, table=True):
    """A CDS client JWT already used, by the SHA-256 of (iss, jti), until it expires."""

    __tablename__ = "cds_jwt_ids"
    __table_args__ = (Index("ix_cds_jwt_ids_expires", "expires_at"),)

    key_hash: str = Field(primary_key=True, max_length=64)
    issuer: str = Field(max_length=500)
    expires_at: datetime = _ts()
