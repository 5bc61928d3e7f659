"""UTC columns read back from SQLite text: every form the database may hold gives the same
aware UTC datetime as SQLAlchemy's parser followed by the type's own conversion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite

from adapters.db.types import UTCDateTime


@pytest.mark.parametrize(("stored", "expected"), [
    ("2026-12-07 14:25:37.123456", datetime(2026, 12, 7, 14, 25, 37, 123456, UTC)),
    ("2026-12-07 14:25:37", datetime(2026, 12, 7, 14, 25, 37, tzinfo=UTC)),
    ("2026-12-07T14:25:37Z", datetime(2026, 12, 7, 14, 25, 37, tzinfo=UTC)),
    ("2026-12-07T17:25:37+03:00", datetime(2026, 12, 7, 14, 25, 37, tzinfo=UTC)),
    ("2026-12-07", datetime(2026, 12, 7, tzinfo=UTC)),
    (datetime(2026, 12, 7, 14, 25), datetime(2026, 12, 7, 14, 25, tzinfo=UTC)),
    (datetime(2026, 12, 7, 17, 25, tzinfo=timezone(timedelta(hours=3))),
     datetime(2026, 12, 7, 14, 25, tzinfo=UTC)),
    (None, None),
])
def test_sqlite_text_reads_back_as_aware_utc(stored: object, expected: datetime | None) -> None:
    process = UTCDateTime().result_processor(sqlite.dialect(), None)
    got = process(stored)
    assert got == expected
    if got is not None:
        assert got.utcoffset() == timedelta(0)


def test_what_is_written_reads_back_unchanged() -> None:
    dialect = sqlite.dialect()
    column = UTCDateTime()
    written = datetime(2026, 12, 7, 17, 25, 37, 5, timezone(timedelta(hours=3)))
    naive = column.process_bind_param(written, dialect)
    to_text = column.impl.dialect_impl(dialect).bind_processor(dialect)
    assert to_text is not None
    assert column.result_processor(dialect, None)(to_text(naive)) == written


@pytest.mark.parametrize("value", [
    datetime(2026, 12, 7, 14, 25, 37, 123456, UTC),
    datetime(2026, 12, 7, 14, 25, 37, tzinfo=UTC),
    datetime(2026, 12, 7, 14, 25, 37, 7, UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 999999, UTC),
    datetime(2026, 12, 7, 1, 5, tzinfo=timezone(timedelta(hours=3))),
    datetime(2026, 12, 7, 23, 5, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
])
def test_bound_values_are_the_text_sqlalchemy_stores(value: datetime) -> None:
    """Stored text is compared as text in SQL (ranges, ordering): it must be exactly what
    SQLAlchemy's own processor writes for the same UTC instant."""
    dialect = sqlite.dialect()
    ours = UTCDateTime().bind_processor(dialect)
    theirs = sqlite.DATETIME().bind_processor(dialect)
    assert ours(value) == theirs(value.astimezone(UTC).replace(tzinfo=None))
    assert UTCDateTime().result_processor(dialect, None)(ours(value)) == value


def test_bound_values_refuse_naive_datetimes_and_pass_none() -> None:
    bind = UTCDateTime().bind_processor(sqlite.dialect())
    assert bind(None) is None
    with pytest.raises(ValueError, match="naive"):
        bind(datetime(2026, 12, 7, 14, 25))
