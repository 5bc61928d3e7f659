from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import Harness, make_settings, running_app
from tests.webhooks.signing import WEBHOOK_ENV


@pytest.fixture
async def edge(tmp_path: Path, database_url: str) -> AsyncIterator[Harness]:
    """The whole app on each database, every webhook provider configured."""
    async with running_app(make_settings(tmp_path / "var", database_url, **WEBHOOK_ENV)) as h:
        yield h
