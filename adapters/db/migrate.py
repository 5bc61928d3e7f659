"""Run Alembic migrations programmatically (``cari-gateway migrate`` and ``serve``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncConnection

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_to_head(url: str) -> None:
    """Synchronous entry point: must not be called from inside a running event loop."""
    command.upgrade(alembic_config(url), "head")


async def upgrade_connection(connection: AsyncConnection) -> None:
    """Migrate on an existing async connection (tests, embedded start-up)."""

    def _upgrade(sync_connection: object) -> None:
        config = alembic_config(str(connection.engine.url))
        config.attributes["connection"] = sync_connection
        command.upgrade(config, "head")

    await connection.run_sync(_upgrade)
