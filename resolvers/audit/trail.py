"""Recording and reading the audit trail."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from resolvers.audit.model import AuditAction, AuditOutcome, AuditQuery, AuditRecord
from resolvers.audit.ports import AuditUnitOfWorkFactory
from resolvers.ids import new_ids
from resolvers.principal import Caller, require_role

MAX_PAGE = 200


def audit_records(
    caller: Caller,
    *,
    action: AuditAction,
    resource_type: str,
    targets: Iterable[tuple[str | None, str | None]],
    outcome: AuditOutcome,
    at: datetime,
) -> list[AuditRecord]:
    """One record per (resource id, patient id) touched by one request."""
    principal = caller.principal
    roles = tuple(sorted(principal.roles))  # once per request, not once per record
    purpose = caller.purpose
    if principal.smart is not None:  # a SMART app's token: the record names the app
        purpose = f"{purpose} smart_app={principal.smart.client_id}".strip()[:200]
    targets = list(targets)
    subject, request_id, surface = principal.subject, caller.request_id, caller.surface
    # Positional, in AuditRecord's field order: a page of patients records a hundred.
    return [
        AuditRecord(record_id, at, subject, roles, action, resource_type, resource_id,
                    patient_id, outcome, request_id, surface, purpose)
        for record_id, (resource_id, patient_id) in zip(new_ids(len(targets)), targets,
                                                         strict=True)
    ]


class AuditWriter(Protocol):
    async def record(self, records: Sequence[AuditRecord]) -> None: ...


class AuditTrail:
    """Records audit rows in their own commit: through ``writer`` (shared commits, see
    resolvers/audit/writer.py) when the composition root gives one, else one transaction
    each. Either way ``record`` returns only once the rows are committed."""

    def __init__(self, uow_factory: AuditUnitOfWorkFactory, *, writer: AuditWriter | None = None,
                 reads: AuditUnitOfWorkFactory | None = None) -> None:
        self._uow_factory = uow_factory
        self._writer = writer
        self._reads = reads or uow_factory

    async def record(self, records: Sequence[AuditRecord]) -> None:
        if not records:
            return
        if self._writer is not None:
            await self._writer.record(records)
            return
        async with self._uow_factory() as uow:
            await uow.audit.append(records)
            await uow.commit()

    async def search(self, caller: Caller, query: AuditQuery) -> list[AuditRecord]:
        require_role(caller)  # admin only
        limited = replace(query, limit=max(1, min(query.limit, MAX_PAGE)))
        async with self._reads() as uow:
            return await uow.audit.search(limited)

