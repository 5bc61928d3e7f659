"""SQLModel table of paused outbox destinations (migration 0021 creates it; keep in sync).
A row per paused destination: the outbox worker's claim skips that destination's rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from adapters.db.types import UTCDateTime


class PausedDestinationRow(SQLModel, table=True):
    __tablename__ = "outbox_paused_destinations"

    destination: str = Field(primary_key=True, max_length=64)
    paused_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    paused_by: str = Field(max_length=200)
    reason: str | None = Field(default=None, max_length=500)
