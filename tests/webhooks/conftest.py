from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import Harness, make_settings, running_app
from tests.webhooks.signing import WEBHOOK_ENV


def webhook_settings(tmp_path: Path, database_url: str, **over: object):  # type: ignore[no-untyped-def]
    return make_settings(tmp_path / "var", database_url, **{
        **WEBHOOK_ENV, "outbox_backoff_base_seconds": 0.02, "outbox_backoff_max_seconds": 0.05,
        "outbox_max_attempts": 3, **over})


@pytest.fixture
async def hooks(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    """The app on SQLite with every webhook provider configured and the worker running."""
    async with running_app(webhook_settings(tmp_path, sqlite_url)) as harness:
        yield harness
