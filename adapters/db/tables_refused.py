"""SQLModel table of the refused messages the message log lists (migration 0020 creates it;
keep in sync)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from adapters.db.types import UTCDateTime


class RefusedMessageRow(SQLModel, table=True):
    """One message refused before storage: bounded body, whole body's size and SHA-256."""

    __tablename__ = "refused_messages"
    __table_args__ = (Index("ix_refused_messages_received", "received_at", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    channel: str = Field(max_length=48)  # hl7-http | hl7-mllp | hl7-graphql | webhook:<provider>
    sender: str | None = Field(default=None, max_length=255)  # MSH-4, else MSH-3
    control_id: str | None = Field(default=None, max_length=255)  # MSH-10
    message_type: str | None = Field(default=None, max_length=64)  # MSH-9, as sent
    reason: str = Field(max_length=500)  # the error text the sender got
    answer: str = Field(max_length=48)  # HTTP 400, HTTP 401, AE, AR, GraphQL's error type
    body: str = Field(sa_column=Column(Text(), nullable=False))
    body_truncated: bool
    size: int  # of the whole body as received
    sha256: str = Field(max_length=64)  # of the whole body as received
