"""The role check of a use case that serves patient data: a refusal is recorded too.

"Who tried to read whose data" matters as much as who read it, so a denied caller leaves a
record naming what was asked for (and the patient, when the request names one) before the
``Forbidden`` reaches the surface.
"""

from __future__ import annotations

from collections.abc import Iterable

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.ports import AuditUnitOfWorkFactory
from resolvers.audit.trail import audit_records
from resolvers.clock import Clock
from resolvers.errors import Forbidden
from resolvers.principal import Caller, Role, require_role

Target = tuple[str | None, str | None]  # (resource id, patient id)


async def require_role_audited(
    uow_factory: AuditUnitOfWorkFactory, clock: Clock, caller: Caller, *roles: Role,
    action: AuditAction, resource_type: str, targets: Iterable[Target] = (),
) -> None:
    """``require_role``; when it refuses, one committed ``denied`` record per target."""
    try:
        require_role(caller, *roles)
    except Forbidden:
        async with uow_factory() as uow:
            await uow.audit.append(audit_records(
                caller, action=action, resource_type=resource_type,
                targets=list(targets) or [(None, None)], outcome=AuditOutcome.DENIED,
                at=clock.now()))
            await uow.commit()
        raise


def patients_or_none(patient_ids: Iterable[str | None]) -> list[Target]:
    """Targets for a read that found nothing: the patients it was about, else one blank."""
    return [(None, p) for p in dict.fromkeys(patient_ids) if p] or [(None, None)]
