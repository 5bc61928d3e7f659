"""Organization scoping: where several facilities share one gateway, a clinician, lab or
billing clerk sees the patients of their own organization and the organizations below it.

Off by default (one facility, or a gateway trusted by all). When on, every caller but
``admin`` and ``public_health`` (which sees aggregates only) is confined to the
organization named by its token's ``org`` claim; a confined token without the claim sees no
patient at all, so a token minted before scoping was turned on cannot read everything.
A patient belongs to its managing organization; a patient without one belongs to nobody a
confined caller can see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from resolvers.errors import NotFound
from resolvers.principal import Caller, Role
from resolvers.transaction import Transaction

UNCONFINED_ROLES = (Role.ADMIN, Role.PUBLIC_HEALTH)


class ManagedRecord(Protocol):
    @property
    def organization_id(self) -> str | None: ...


class PatientOrganizations(Protocol):
    """What scoping reads of patients: which organization manages each."""

    async def get_many(self, ids: Sequence[str]) -> Mapping[str, ManagedRecord]: ...


class OrganizationTree(Protocol):
    async def descendants(self, ids: Sequence[str], *, max_depth: int = 16) -> set[str]:
        """These organizations and all below them (part_of, transitively)."""
        ...


class ScopingUnitOfWork(Transaction, Protocol):
    @property
    def patients(self) -> PatientOrganizations: ...
    @property
    def organizations(self) -> OrganizationTree: ...


@dataclass(frozen=True)
class PatientScope:
    """Which managing organizations a caller may see; ``None`` means every patient."""

    organizations: frozenset[str] | None

    @property
    def unrestricted(self) -> bool:
        return self.organizations is None

    def allows(self, organization_id: str | None) -> bool:
        if self.organizations is None:
            return True
        return organization_id is not None and organization_id in self.organizations


EVERYONE = PatientScope(None)


class OrganizationScoping:
    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled

    def confines(self, caller: Caller) -> bool:
        return self.enabled and not any(r in caller.principal.roles for r in UNCONFINED_ROLES)

    async def scope(self, uow: ScopingUnitOfWork, caller: Caller) -> PatientScope:
        """The caller's scope, read inside the caller's unit of work (one query per level
        of the organization tree, only for confined callers)."""
        if not self.confines(caller):
            return EVERYONE
        org = caller.principal.organization
        if not org:
            return PatientScope(frozenset())
        return PatientScope(frozenset(await uow.organizations.descendants([org])))


async def patients_outside(uow: ScopingUnitOfWork, scope: PatientScope,
                           patient_ids: Sequence[str]) -> list[str]:
    """Those of these patients the scope does not allow (an unknown patient is outside:
    nothing shows it belongs to the caller's organizations)."""
    if scope.unrestricted or not patient_ids:
        return []
    unique = list(dict.fromkeys(patient_ids))
    found = await uow.patients.get_many(unique)
    return [p for p in unique if p not in found or not scope.allows(found[p].organization_id)]


def out_of_scope(resource: str) -> NotFound:
    """What a confined caller is told about a patient outside its organizations: the same as
    an absent one, so the answer does not reveal that the patient exists elsewhere."""
    return NotFound(f"no {resource} with that id in your organization")
