"""Which database a session talks to, and that database's INSERT (for ON CONFLICT)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_name(session: AsyncSession) -> str:
    """"postgresql" or "sqlite" (the embedded default when the session is not bound)."""
    return session.bind.dialect.name if session.bind is not None else "sqlite"


# Each dialect's ``insert``, by dialect_name: the one with ``on_conflict_do_nothing``.
INSERT_BY_DIALECT: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_for(session: AsyncSession) -> Any:
    """``insert`` of the session's dialect: the one with ``on_conflict_do_nothing``."""
    return INSERT_BY_DIALECT[dialect_name(session)]
