"""A unit of work spans one transaction: business rows, audit records and outbox rows written
through it commit together or not at all. Each capability declares, in its own ports module,
the unit of work it needs (this base plus the repositories it uses); adapters provide one
unit of work that has them all, and fakes too.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self


class Transaction(Protocol):
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
