from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from tests.console.browser import ConsoleSite, chromium, console_site
from tests.support import make_settings


@pytest.fixture
async def site(tmp_path: Path, sqlite_url: str) -> AsyncIterator[ConsoleSite]:
    async with console_site(make_settings(tmp_path / "var", sqlite_url)) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched
