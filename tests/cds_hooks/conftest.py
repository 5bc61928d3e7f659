from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cds_hooks.support import cds_gateway, cds_settings
from tests.support import Harness


@pytest.fixture
async def cds(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    """The gateway on SQLite with the fake checker, public base URL https://gw.example.org,
    CDS CORS for https://ehr.example.org."""
    settings = cds_settings(tmp_path, sqlite_url, cors_origins=("https://ehr.example.org",))
    async with cds_gateway(settings) as harness:
        yield harness
