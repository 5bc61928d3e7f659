"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JsonDocument: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in, timezone-aware UTC datetimes out, on every backend.

    SQLite has no time zones, so values are stored as naive UTC there and re-tagged on read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Any:
        # On SQLite the value becomes SQLAlchemy's stored text in one C call: storing a
        # 10-result message binds ~40 datetimes, each through this decorator and then
        # SQLAlchemy's own formatter, about a thirtieth of its CPU.
        if dialect.name == "sqlite":
            return _sqlite_text
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        # On SQLite the stored text is parsed and tagged in one step (datetime.fromisoformat,
        # in C), not by SQLAlchemy's parser and then this decorator's process_result_value:
        # a search page converts every row's last_updated, ~2 us a row the two-step way.
        if dialect.name == "sqlite":
            return _sqlite_utc
        return super().result_processor(dialect, coltype)


def _sqlite_text(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite text for the instant, "YYYY-MM-DD HH:MM:SS.ffffff" in UTC (the
    first 26 characters of the ISO form, before its offset)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


def _sqlite_utc(value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            # Stored as naive UTC text: parsed with its zone in one call, because
            # datetime.replace(tzinfo=...) alone costs five times the parse.
            parsed = datetime.fromisoformat(value + "+00:00")
        except ValueError:  # text that carries its own offset (written by hand or by SQL)
            parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
        value = parsed  # a date alone: the offset was not taken
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
