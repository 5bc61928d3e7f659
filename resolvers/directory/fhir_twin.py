"""The directory twin of a FHIR Organization: FHIR Organizations appear in the directory
(GraphQL Organization, /api/organizations) with the same id."""

from __future__ import annotations

from datetime import datetime

from resolvers.directory.model import Organization
from resolvers.directory.ports import DirectoryUnitOfWork
from resolvers.fhir.model import StoredResource
from resolvers.fhir.ports import TwinWriter
from resolvers.mpi.model import Identifier


def organization_twin(uow: DirectoryUnitOfWork) -> TwinWriter:
    async def write(stored: StoredResource, now: datetime) -> None:
        await sync_organization(uow, stored, now)
    return write


async def sync_organization(uow: DirectoryUnitOfWork, stored: StoredResource,
                            now: datetime) -> None:
    """FHIR Organizations appear in the directory (GraphQL Organization, /api/organizations)."""
    doc = stored.document
    identifiers = tuple(dict.fromkeys(
        Identifier(str(i["system"]), str(i["value"])) for i in doc.get("identifier") or []
        if isinstance(i, dict) and i.get("system") and i.get("value")))
    name = doc.get("name") if isinstance(doc.get("name"), str) else None
    country = next((a.get("country") for a in doc.get("address") or []
                    if isinstance(a, dict) and isinstance(a.get("country"), str)
                    and len(a["country"]) == 2 and a["country"].isascii()
                    and a["country"].isalpha()), None)
    kind = next((c.get("code") for t in doc.get("type") or [] if isinstance(t, dict)
                 for c in t.get("coding") or [] if isinstance(c, dict) and c.get("code")), None)
    parent = (doc.get("partOf") or {}).get("reference", "") if isinstance(
        doc.get("partOf"), dict) else ""
    part_of = parent.split("/", 1)[1] if isinstance(parent, str) and parent.startswith(
        "Organization/") else None
    if part_of and (part_of == stored.id or not await uow.organizations.get_many([part_of])):
        part_of = None  # a FHIR-only or self parent: the directory does not link it
    current = (await uow.organizations.get_many([stored.id])).get(stored.id)
    org = Organization(
        id=stored.id, name=(name or (identifiers[0].value if identifiers else stored.id))[:200],
        identifiers=identifiers, country=country.upper() if country else None,
        kind=str(kind)[:64] if kind else None, version=current.version + 1 if current else 1,
        created_at=current.created_at if current else now, updated_at=now, part_of=part_of)
    if current is None:
        await uow.organizations.add(org)
    else:
        await uow.organizations.update(org)
