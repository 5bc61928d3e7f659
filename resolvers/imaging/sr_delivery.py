"""The outbox destination that writes annotation versions to the PACS as a DICOM SR.

Runs in the outbox worker: a PACS outage is a transient failure (retried with backoff), a
referenced instance the PACS does not hold is permanent (dead-lettered, visible in
/api/admin/outbox). The SR's SOP Instance UID is derived from the message, so a retry after
a lost answer replaces the same SR in the PACS instead of adding a second one.
"""

from __future__ import annotations

from typing import Any

from resolvers.imaging.errors import PacsUnavailable
from resolvers.imaging.model import AnnotationVersion
from resolvers.imaging.ports import ImagingStore, Pacs, StructuredReports
from resolvers.outbox.delivery import PermanentDeliveryError
from resolvers.outbox.model import OutboxMessage


class StructuredReportDelivery:
    def __init__(self, store: ImagingStore, pacs: Pacs, reports: StructuredReports) -> None:
        self._store = store
        self._pacs = pacs
        self._reports = reports

    async def deliver(self, message: OutboxMessage) -> None:
        versions: list[AnnotationVersion] = []
        for annotation_id, number in message.payload["versions"]:
            found = await self._store.get_version(str(annotation_id), int(number))
            if found is None:
                raise PermanentDeliveryError(f"annotation {annotation_id} v{number} is gone")
            versions.append(found)
        sources: dict[str, dict[str, Any]] = {}
        try:
            for v in versions:
                if v.instance_uid in sources:
                    continue
                metadata = await self._pacs.instance_metadata(v.study_uid, v.series_uid,
                                                              v.instance_uid)
                if metadata is None:
                    raise PermanentDeliveryError(
                        f"the PACS has no instance {v.instance_uid} in series {v.series_uid}")
                sources[v.instance_uid] = metadata
            report = self._reports.build(versions, sources, message.idempotency_key)
            await self._pacs.store([report])
        except PacsUnavailable as exc:  # retried by the worker; the versions are kept
            raise ConnectionError(exc.message) from None
        for v in versions:
            await self._store.mark_sr_stored(v.annotation_id, v.version)
