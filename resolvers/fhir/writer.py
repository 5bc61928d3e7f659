"""The one write path for FHIR resources, inside a caller's unit of work.

A write stores a new version (document, history row, search index), keeps the resource's
twin in step when the caller gives its writer (the MPI patient of a Patient, the directory
entry of an Organization), and enqueues the Medplum mirror delivery and the
``fhir.resource.*`` webhook event: all in the transaction of the unit of work, so a rollback
undoes every part.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from resolvers.fhir.errors import problem
from resolvers.fhir.model import FHIR_DELETE, FHIR_UPSERT, IndexEntry, StoredResource
from resolvers.fhir.ports import FhirWriteUnitOfWork, TwinWriter
from resolvers.fhir.search_params import index_resource, sort_date
from resolvers.ids import new_id
from resolvers.notifications.events import webhook_event
from resolvers.outbox.model import NewOutboxMessage

# Types whose writes keep a twin in step in the same transaction (the MPI patient of a
# Patient, the directory entry of an Organization): the one list the writers go by.
TWINNED = frozenset({"Patient", "Organization"})


@dataclass(frozen=True)
class MirrorConfig:
    destinations: Sequence[str] = ()  # e.g. ("medplum",) when Medplum is configured
    # Resource type -> outbox destinations told of each of its versions (type, id, version
    # only), in the write's transaction: capabilities that act on a type's changes
    # (appointment reminders on Appointment) lose none of them to a crash.
    watchers: Mapping[str, Sequence[str]] = field(default_factory=dict)


def _with_meta(doc: dict[str, Any], resource_id: str, version: int, at: datetime, *,
               deep: bool = True) -> dict[str, Any]:
    out = copy.deepcopy(doc) if deep else dict(doc)
    out["id"] = resource_id
    meta = dict(out.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    out["meta"] = meta
    return out


async def write_resource(
    uow: FhirWriteUnitOfWork, doc: dict[str, Any], *, resource_id: str | None, expected_version: int | None,
    now: datetime, mirror: MirrorConfig, twin: TwinWriter | None = None,
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
    if twin is not None:  # the MPI patient or directory entry, in the same transaction
        await twin(stored, now)
    await uow.outbox.enqueue(mirror_messages(stored, mirror))
    return stored


NewResource = tuple[StoredResource, list[IndexEntry], datetime | None]


def first_version(doc: dict[str, Any], rid: str, now: datetime) -> StoredResource:
    """Version 1 of a new resource (id and meta set), as stored. ``doc`` is taken, not
    copied (only its top level is): callers pass documents they built for this write and
    leave alone afterwards, and a deep copy of each was a tenth of a 10-OBX message's cost."""
    return StoredResource(str(doc["resourceType"]), rid, 1, now, False,
                          _with_meta(doc, rid, 1, now, deep=False))


def indexed(stored: StoredResource) -> NewResource:
    """A version with what its row needs (search index, sort date), for
    :meth:`FhirRepository.create_many`."""
    index = index_resource(stored.document)
    return stored, index, sort_date(stored.document, index)


def mirror_messages(stored: StoredResource, mirror: MirrorConfig) -> list[NewOutboxMessage]:
    """The deliveries of this version: a copy to each mirror, its watchers' notices and its
    webhook event."""
    return [*(NewOutboxMessage(destination, {"type": FHIR_UPSERT, "resource": stored.document},
                               f"fhir:{stored.resource_type}/{stored.id}/_history/"
                               f"{stored.version}")
              for destination in mirror.destinations), *watch_messages(stored, mirror),
            resource_event(stored)]


def watch_messages(stored: StoredResource, mirror: MirrorConfig) -> list[NewOutboxMessage]:
    """A notice of this version to each watcher of its type; the watcher reads the resource."""
    key = f"{stored.resource_type}/{stored.id}/_history/{stored.version}"
    return [NewOutboxMessage(destination, {"resource_type": stored.resource_type,
                                           "id": stored.id, "version": stored.version,
                                           "deleted": stored.deleted}, key)
            for destination in mirror.watchers.get(stored.resource_type, ())]


def resource_event(stored: StoredResource) -> NewOutboxMessage:
    """``fhir.resource.created``/``updated``/``deleted``: the type, id and version only."""
    kind = "deleted" if stored.deleted else "created" if stored.version == 1 else "updated"
    return webhook_event(f"fhir.resource.{kind}", {
        "resource_type": stored.resource_type, "resource_id": stored.id,
        "version_id": str(stored.version)}, stored.last_updated,
        key=f"{stored.resource_type}/{stored.id}/_history/{stored.version}",
        resource_type=stored.resource_type)


async def create_resources(uow: FhirWriteUnitOfWork, docs: Sequence[tuple[str, dict[str, Any]]], *,
                           now: datetime, mirror: MirrorConfig) -> list[StoredResource]:
    """Create many new resources, given as (new id, document), in one go (multi-row inserts);
    the same as :func:`write_resource` for each. Only for types with no MPI/directory twin."""
    items = []
    for rid, doc in docs:
        resource_type = str(doc["resourceType"])
        if resource_type in TWINNED:
            raise ValueError(f"{resource_type} must go through write_resource")
        items.append(indexed(first_version(doc, rid, now)))
    await uow.fhir.create_many(items)
    await uow.outbox.enqueue([message for stored, _index, _sort in items
                              for message in mirror_messages(stored, mirror)])
    return [stored for stored, _index, _sort in items]


async def delete_resource(uow: FhirWriteUnitOfWork, current: StoredResource, now: datetime, *,
                          mirror: MirrorConfig) -> StoredResource:
    """A tombstone as the next version; the mirrors are told to delete their copy too."""
    tombstone = replace(current, version=current.version + 1, last_updated=now, deleted=True,
                        document={})
    if not await uow.fhir.put(tombstone, [], None, expected_version=current.version):
        raise problem(409, "conflict", "the resource was changed concurrently")
    await uow.outbox.enqueue([
        *(NewOutboxMessage(destination, {"type": FHIR_DELETE,
                                         "resourceType": current.resource_type,
                                         "id": current.id, "version": tombstone.version},
                           f"fhir:{current.resource_type}/{current.id}/_history/"
                           f"{tombstone.version}")
          for destination in mirror.destinations), *watch_messages(tombstone, mirror),
        resource_event(tombstone)])
    return tombstone
