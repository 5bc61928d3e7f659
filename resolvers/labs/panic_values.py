"""The panic-value check (POST /api/cds/panic-values/check) as a use case: the same rule
ingest applies, one answer for every surface, and an audit record of who asked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.clock import Clock
from resolvers.labs.critical_values import CriticalFinding, assess
from resolvers.principal import Caller, Role, require_role


@dataclass(frozen=True)
class PanicQuestion:
    code: str
    value: float | None
    unit: str = ""
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class PanicAnswer:
    findings: tuple[CriticalFinding, ...]

    @property
    def critical_count(self) -> int:
        return sum(f.critical for f in self.findings)


class PanicValueCheck:
    def __init__(self, audit: AuditTrail, clock: Clock) -> None:
        self._audit = audit
        self._clock = clock

    async def check(self, caller: Caller, questions: Sequence[PanicQuestion]) -> PanicAnswer:
        # Any authenticated role: the values carry no patient, but who asked is recorded.
        require_role(caller, *Role)
        answer = PanicAnswer(tuple(assess(q.code, q.value, q.unit, q.flags) for q in questions))
        await self._audit.record(audit_records(
            caller, action=AuditAction.EXECUTE, resource_type="PanicValueCheck",
            targets=[(None, None)], outcome=AuditOutcome.SUCCESS, at=self._clock.now()))
        return answer
