"""Mirrors clinical records to Medplum: the outbox delivery handler of destination ``medplum``.

Payload contract
================

A use case that stores a FHIR resource enqueues, in the same transaction::

    NewOutboxMessage(
        destination="medplum",                                  # MEDPLUM
        payload={"type": "fhir.upsert", "resource": {...}},     # FHIR_UPSERT
        idempotency_key="fhir:Patient/<id>/_history/<version>", # one per resource version
    )

``resource`` is the FHIR R4 resource (a JSON object) as the gateway stored it:

- ``resourceType``: required.
- ``id``: the gateway's id of the resource. Medplum assigns its own ids, so this becomes the
  match key ``urn:cari:gateway:resource-id|<id>`` (see :mod:`adapters.medplum.matching`).
  Without an id, the first ``identifier`` that has a system and a value is the key. With
  neither, the message is refused.
- ``meta.versionId``: the gateway's version as a decimal string ("1", "2", ...). Optional
  but recommended. When present, a version older than Medplum's copy is never written, so
  out-of-order deliveries cannot roll a record back. Anything that is not a positive
  integer is ignored, and the delivery is then a plain conditional update.
- ``meta.lastUpdated`` is dropped (Medplum sets its own). Everything else is sent as it is.
  Medplum answers 4xx to invalid content, and the message becomes a dead letter.

A delete (``resolvers.fhir.writer.delete_resource``) enqueues::

    payload={"type": "fhir.delete", "resourceType": "Observation", "id": "<gateway id>",
             "version": <the tombstone's version>}

and Medplum's copy is deleted, unless it carries that version or a newer one (written again
after the delete). An upsert that arrives after its resource was deleted here (a retry that
was overtaken) is dropped: ``is_deleted`` asks the gateway's own store, so a late upsert
cannot bring a deleted record (say, results unlinked from the wrong patient) back to life.

Other ``type`` values and malformed payloads are dead-lettered at once, so an admin can
replay them after an upgrade.

Outcome: the worker retries a failure that may go away (Medplum down, slow, 5xx, 429, a lost
write race) with backoff, so an outage delays the mirror and loses nothing. A failure that
cannot go away (other 4xx, bad credentials, a refused outbound address, a bad payload)
raises :class:`PermanentDeliveryError`, and the message becomes a dead letter at once. A
replay never duplicates the record in Medplum.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from adapters.medplum.client import MedplumClient
from adapters.medplum.errors import MedplumPermanentError
from resolvers.fhir.model import FHIR_DELETE, FHIR_UPSERT  # the producer's side
from resolvers.outbox.delivery import PermanentDeliveryError
from resolvers.outbox.model import OutboxMessage

__all__ = ["FHIR_DELETE", "FHIR_UPSERT", "MEDPLUM", "MedplumMirror", "gateway_version"]

# (resource type, gateway id) -> is the gateway's current version a delete?
IsDeleted = Callable[[str, str], Awaitable[bool]]

log = logging.getLogger("cari.medplum")

MEDPLUM = "medplum"


def gateway_version(resource: Mapping[str, Any]) -> int | None:
    """``meta.versionId`` as a positive integer, or None."""
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, Mapping) else None
    if isinstance(version, str) and version.isascii() and version.isdigit() and int(version) > 0:
        return int(version)
    return None


class MedplumMirror:
    """``DeliveryHandler`` for :data:`MEDPLUM`: one upsert per outbox message."""

    def __init__(self, client: MedplumClient, is_deleted: IsDeleted | None = None) -> None:
        self._client = client
        self._is_deleted = is_deleted

    async def deliver(self, message: OutboxMessage) -> None:
        payload = message.payload
        kind = payload.get("type")
        if kind == FHIR_DELETE:
            await self._delete(message)
            return
        if kind != FHIR_UPSERT:
            raise PermanentDeliveryError(
                f"unsupported Medplum message type {str(kind)[:40]!r}; "
                f"expected {FHIR_UPSERT!r} or {FHIR_DELETE!r}")
        resource = payload.get("resource")
        if not isinstance(resource, dict):
            raise PermanentDeliveryError("the payload has no 'resource' object")
        version = gateway_version(resource)
        rtype, rid = resource.get("resourceType"), resource.get("id")
        if (self._is_deleted is not None and isinstance(rtype, str) and isinstance(rid, str)
                and await self._is_deleted(rtype, rid)):
            log.info("medplum mirror skipped an upsert overtaken by a delete",
                     extra={"outbox_id": message.id, "destination": message.destination})
            return
        try:
            if version is None:
                await self._client.upsert(resource, idempotency_key=message.idempotency_key)
                action = "upserted"
            else:
                result = await self._client.upsert_versioned(
                    resource, version, idempotency_key=message.idempotency_key)
                action = result.action
        except MedplumPermanentError as exc:
            raise PermanentDeliveryError(f"{type(exc).__name__}: {exc}") from None
        # Transient errors propagate unchanged: the worker retries them with backoff.
        # Only whitelisted fields reach the JSON logs; the type and action are not patient data.
        log.log(logging.INFO if action == "unchanged" else logging.DEBUG,
                "medplum mirror %s %s", action, resource.get("resourceType"),
                extra={"outbox_id": message.id, "destination": message.destination})

    async def _delete(self, message: OutboxMessage) -> None:
        payload = message.payload
        rtype, rid, version = payload.get("resourceType"), payload.get("id"), payload.get("version")
        if not (isinstance(rtype, str) and isinstance(rid, str) and isinstance(version, int)
                and not isinstance(version, bool) and version > 0):
            raise PermanentDeliveryError("a delete needs resourceType, id and a positive version")
        try:
            action = await self._client.delete_copy(rtype, rid, version)
        except MedplumPermanentError as exc:
            raise PermanentDeliveryError(f"{type(exc).__name__}: {exc}") from None
        log.info("medplum mirror %s %s", action, rtype,
                 extra={"outbox_id": message.id, "destination": message.destination})
