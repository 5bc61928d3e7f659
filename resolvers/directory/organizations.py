"""Organization use cases. Organizations are not patient data: reads are not audited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from resolvers.clock import Clock
from resolvers.directory.fhir_twin import organization_twin
from resolvers.directory.model import Organization, OrganizationDraft
from resolvers.directory.ports import DirectoryUnitOfWorkFactory
from resolvers.errors import InvalidInput, NotFound
from resolvers.fhir.writer import MirrorConfig, write_resource
from resolvers.ids import new_id
from resolvers.principal import Caller, Role, require_role

MAX_PAGE = 200
READ_ROLES = tuple(Role)
WRITE_ROLES = (Role.INTEGRATOR,)


def validate_organization(draft: OrganizationDraft) -> OrganizationDraft:
    problems: list[dict[str, str]] = []
    if not draft.name.strip() or len(draft.name) > 200:
        problems.append({"field": "name", "message": "must be 1 to 200 non-blank characters"})
    if draft.country is not None and not (len(draft.country) == 2 and draft.country.isascii()
                                          and draft.country.isalpha()):
        problems.append({"field": "country", "message": "must be an ISO 3166-1 alpha-2 code"})
    for i, ident in enumerate(draft.identifiers):
        if not ident.system.strip() or not ident.value.strip():
            problems.append({"field": f"identifiers[{i}]", "message": "system and value are required"})
    if problems:
        raise InvalidInput("the organization is not valid", details=problems)
    return OrganizationDraft(
        name=draft.name.strip(), identifiers=draft.identifiers,
        country=draft.country.upper() if draft.country else None, kind=draft.kind,
        part_of=draft.part_of or None,
    )


def organization_to_fhir(org: Organization) -> dict[str, Any]:
    doc: dict[str, Any] = {"resourceType": "Organization", "id": org.id, "name": org.name,
                           "active": True}
    if org.identifiers:
        doc["identifier"] = [{"system": i.system, "value": i.value} for i in org.identifiers]
    if org.country:
        doc["address"] = [{"country": org.country}]
    if org.kind:
        doc["type"] = [{"coding": [{"code": org.kind}], "text": org.kind}]
    if org.part_of:
        doc["partOf"] = {"reference": f"Organization/{org.part_of}"}
    return doc


class OrganizationUseCases:
    def __init__(self, uow_factory: DirectoryUnitOfWorkFactory, clock: Clock,
                 mirror: MirrorConfig | None = None,
                 reads: DirectoryUnitOfWorkFactory | None = None) -> None:
        self._uow_factory = uow_factory
        self._reads = reads or uow_factory  # reads write nothing: read-only connections do
        self._clock = clock
        self._mirror = mirror or MirrorConfig()

    async def get_many(self, caller: Caller, ids: Sequence[str]) -> dict[str, Organization]:
        require_role(caller, *READ_ROLES)
        async with self._reads() as uow:
            return await uow.organizations.get_many(list(dict.fromkeys(ids)))

    async def get(self, caller: Caller, organization_id: str) -> Organization:
        found = await self.get_many(caller, [organization_id])
        if organization_id not in found:
            raise NotFound(f"no organization with id {organization_id!r}")
        return found[organization_id]

    async def search(
        self, caller: Caller, *, name: str | None, after: str | None, limit: int
    ) -> list[Organization]:
        require_role(caller, *READ_ROLES)
        async with self._reads() as uow:
            return await uow.organizations.search(
                name=name, after=after, limit=max(1, min(limit, MAX_PAGE)))

    async def create(self, caller: Caller, draft: OrganizationDraft) -> Organization:
        require_role(caller, *WRITE_ROLES)
        clean = validate_organization(draft)
        now = self._clock.now()
        org = Organization(
            id=new_id(), name=clean.name, identifiers=clean.identifiers, country=clean.country,
            kind=clean.kind, version=1, created_at=now, updated_at=now, part_of=clean.part_of,
        )
        async with self._uow_factory() as uow:
            if clean.part_of and not await uow.organizations.get_many([clean.part_of]):
                raise InvalidInput("the parent organization does not exist", details=[
                    {"field": "part_of", "message": "unknown organization"}])
            await uow.organizations.add(org)
            # The same organization as a FHIR resource (same id), mirrored like any other.
            await write_resource(uow, organization_to_fhir(org), resource_id=org.id,
                                 expected_version=None, now=now, mirror=self._mirror)
            await uow.commit()
        return org

    async def upsert(self, caller: Caller, organization_id: str, draft: OrganizationDraft, *,
                     roles: Sequence[Role] = WRITE_ROLES) -> bool | None:
        """Create or replace the organization with this id, and its FHIR twin (an import's
        write; ``roles``: who may). True: created; False: changed; None: already so."""
        require_role(caller, *roles)
        clean = validate_organization(draft)
        now = self._clock.now()
        async with self._uow_factory() as uow:
            current = (await uow.organizations.get_many([organization_id])).get(organization_id)
            if current is not None and (
                    current.name, current.identifiers, current.kind, current.part_of,
                    current.country) == (clean.name, clean.identifiers, clean.kind,
                                         clean.part_of, clean.country):
                return None
            stored = (await uow.fhir.get_many("Organization", [organization_id])).get(
                organization_id)
            doc = organization_to_fhir(Organization(
                id=organization_id, name=clean.name, identifiers=clean.identifiers,
                country=clean.country, kind=clean.kind, version=0, created_at=now,
                updated_at=now, part_of=clean.part_of))
            await write_resource(uow, doc, resource_id=organization_id,
                                 expected_version=stored.version if stored else None, now=now,
                                 mirror=self._mirror, twin=organization_twin(uow))
            await uow.commit()
        return current is None
