"""Ports of the audit capability."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from resolvers.audit.model import AuditQuery, AuditRecord
from resolvers.transaction import Transaction


class AuditLog(Protocol):
    async def append(self, records: Sequence[AuditRecord]) -> None: ...
    async def search(self, query: AuditQuery) -> list[AuditRecord]: ...


class AuditUnitOfWork(Transaction, Protocol):
    @property
    def audit(self) -> AuditLog: ...


AuditUnitOfWorkFactory = Callable[[], AuditUnitOfWork]
