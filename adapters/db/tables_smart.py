"""SQLModel tables of SMART on FHIR (migration 0012 creates them; keep in sync)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from adapters.db.types import JsonDocument, UTCDateTime


def _ts(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class SmartAppRow(SQLModel, table=True):
    """A registered SMART app; a confidential app's secret is kept as its SHA-256 only."""

    __tablename__ = "smart_apps"

    client_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    redirect_uris: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    scopes: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    launch_urls: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    confidential: bool = Field(default=False)
    secret_hash: str | None = Field(default=None, max_length=64)
    jwks_url: str | None = Field(default=None, max_length=2000)
    jwks: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonDocument,
                                                                       nullable=True))
    created_at: datetime = _ts()
    created_by: str = Field(max_length=200)


class SmartGrantRow(SQLModel, table=True):
    """Launch ids, authorization codes, refresh tokens, used assertion jtis and revoked
    access tokens, under the SHA-256 of their value; ``used_at`` makes each single use."""

    __tablename__ = "smart_grants"
    __table_args__ = (Index("ix_smart_grants_expires", "expires_at"),)

    key_hash: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)
    client_id: str = Field(max_length=64)
    data: dict[str, Any] = Field(sa_column=Column(JsonDocument, nullable=False))
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(nullable=True)
