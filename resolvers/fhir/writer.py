"""The one write path for FHIR resources, inside a caller's unit of work.

A write stores a new version (document, history row, search index), keeps the MPI patient
row in step with Patient resources, and enqueues the Medplum mirror delivery: all in the
transaction of the unit of work, so a rollback undoes every part.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from resolvers.directory.model import Organization
from resolvers.fhir.errors import problem
from resolvers.fhir.model import FHIR_DELETE, FHIR_UPSERT, StoredResource
from resolvers.fhir.search_params import index_resource, sort_date
from resolvers.ids import new_id
from resolvers.mpi.fhir_mapping import draft_from_fhir
from resolvers.mpi.model import Identifier, Patient
from resolvers.outbox.model import NewOutboxMessage
from resolvers.ports import UnitOfWork


@dataclass(frozen=True)
class MirrorConfig:
    destinations: Sequence[str] = ()  # e.g. ("medplum",) when Medplum is configured


def _with_meta(doc: dict[str, Any], resource_id: str, version: int, at: datetime) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["id"] = resource_id
    meta = dict(out.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    out["meta"] = meta
    return out


async def write_resource(
    uow: UnitOfWork, doc: dict[str, Any], *, resource_id: str | None, expected_version: int | None,
    now: datetime, mirror: MirrorConfig, sync_mpi: bool = True,
) -> StoredResource:
    """Store ``doc`` as a new version; ``expected_version`` None creates (new id if none)."""
    resource_type = str(doc["resourceType"])
    rid = resource_id or new_id()
    version = (expected_version or 0) + 1
    stored = StoredResource(resource_type, rid, version, now, False,
                            _with_meta(doc, rid, version, now))
    index = index_resource(stored.document)
    if not await uow.fhir.put(stored, index, sort_date(stored.document, index),
                              expected_version=expected_version):
        raise problem(409, "conflict", f"{resource_type}/{rid} was changed concurrently; "
                      "read it again and retry")
    if resource_type == "Patient" and sync_mpi:
        await _sync_mpi_patient(uow, stored, now)
    if resource_type == "Organization" and sync_mpi:
        await _sync_directory_organization(uow, stored, now)
    await uow.outbox.enqueue([
        NewOutboxMessage(destination, {"type": FHIR_UPSERT, "resource": stored.document},
                         f"fhir:{resource_type}/{rid}/_history/{version}")
        for destination in mirror.destinations])
    return stored


async def create_resources(uow: UnitOfWork, docs: Sequence[tuple[str, dict[str, Any]]], *,
                           now: datetime, mirror: MirrorConfig) -> list[StoredResource]:
    """Create many new resources, given as (new id, document), in one go (multi-row inserts);
    the same as :func:`write_resource` for each. Only for types with no MPI/directory twin."""
    items = []
    for rid, doc in docs:
        resource_type = str(doc["resourceType"])
        if resource_type in ("Patient", "Organization"):
            raise ValueError(f"{resource_type} must go through write_resource")
        stored = StoredResource(resource_type, rid, 1, now, False, _with_meta(doc, rid, 1, now))
        index = index_resource(stored.document)
        items.append((stored, index, sort_date(stored.document, index)))
    await uow.fhir.create_many(items)
    await uow.outbox.enqueue([
        NewOutboxMessage(destination, {"type": FHIR_UPSERT, "resource": stored.document},
                         f"fhir:{stored.resource_type}/{stored.id}/_history/1")
        for stored, _index, _sort in items for destination in mirror.destinations])
    return [stored for stored, _index, _sort in items]


async def delete_resource(uow: UnitOfWork, current: StoredResource, now: datetime, *,
                          mirror: MirrorConfig) -> StoredResource:
    """A tombstone as the next version; the mirrors are told to delete their copy too."""
    tombstone = replace(current, version=current.version + 1, last_updated=now, deleted=True,
                        document={})
    if not await uow.fhir.put(tombstone, [], None, expected_version=current.version):
        raise problem(409, "conflict", "the resource was changed concurrently")
    await uow.outbox.enqueue([
        NewOutboxMessage(destination, {"type": FHIR_DELETE, "resourceType": current.resource_type,
                                       "id": current.id, "version": tombstone.version},
                         f"fhir:{current.resource_type}/{current.id}/_history/{tombstone.version}")
        for destination in mirror.destinations])
    return tombstone


async def _sync_mpi_patient(uow: UnitOfWork, stored: StoredResource, now: datetime) -> None:
    draft = draft_from_fhir(stored.document)
    for ident in draft.identifiers:
        other = await uow.patients.find_by_identifier(ident)
        if other is not None and other.id != stored.id:
            raise problem(409, "duplicate",
                          f"another patient (Patient/{other.id}) already has the identifier "
                          f"{ident.system}|{ident.value}", "Patient.identifier")
    organization_id = draft.organization_id
    if organization_id and not await uow.organizations.get_many([organization_id]):
        organization_id = None  # a FHIR-only organization: the MPI row does not link it
    current = (await uow.patients.get_many([stored.id])).get(stored.id)
    patient = Patient(
        id=stored.id, identifiers=draft.identifiers, family=draft.family, given=draft.given,
        birth_date=draft.birth_date, gender=draft.gender, phone=draft.phone,
        organization_id=organization_id, version=current.version + 1 if current else 1,
        created_at=current.created_at if current else now, updated_at=now)
    if current is None:
        await uow.patients.add(patient)
    elif not await uow.patients.update(patient, expected_version=current.version):
        raise problem(409, "conflict", "the patient was changed concurrently")


async def _sync_directory_organization(uow: UnitOfWork, stored: StoredResource,
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
