"""SQLModel tables of public health (migration 0013 creates them; keep in sync)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from adapters.db.types import JsonDocument, UTCDateTime


def _ts() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=False))


class Dhis2PushRow(SQLModel, table=True):
    """A push of a dataValueSet to a configured DHIS2 instance, and what DHIS2 answered."""

    __tablename__ = "dhis2_pushes"
    __table_args__ = (Index("ix_dhis2_pushes_target", "data_set", "period", "org_unit"),)

    id: str = Field(primary_key=True, max_length=36)
    instance_url: str = Field(max_length=500)
    data_set: str = Field(max_length=64)
    period: str = Field(max_length=32)
    org_unit: str | None = Field(default=None, max_length=64)
    dry_run: bool = False
    import_strategy: str = Field(max_length=32)
    state: str = Field(max_length=16)
    attempts: int = 0
    payload: dict[str, Any] = Field(default_factory=dict,
                                    sa_column=Column(JsonDocument, nullable=False))
    summary: dict[str, Any] | None = Field(default=None,
                                           sa_column=Column(JsonDocument, nullable=True))
    last_error: str | None = Field(default=None, max_length=500)
    created_by: str = Field(max_length=200)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
