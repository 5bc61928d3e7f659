"""POST /api/clinical/dicom/annotate and the annotation list: versioned measurements,
regions and text on a study whose ownership an access call checked.

Annotating needs no PACS round trip: the study's patient is the one the access call
checked, kept by the gateway. The versions are committed with one outbox message that
writes their DICOM SR to the PACS later, so a PACS outage delays the SR and loses nothing
(the answer says ``sr_state: pending``), and one that writes them to the gateway's FHIR store
as Observations derived from the ImagingStudy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.errors import Conflict, InvalidInput, NotFound
from resolvers.ids import new_id
from resolvers.imaging.model import (
    AnnotationDraft,
    AnnotationPage,
    AnnotationVersion,
    ImagingConfig,
    KnownStudy,
    SrState,
)
from resolvers.imaging.ports import ImagingStore
from resolvers.outbox.model import NewOutboxMessage
from resolvers.principal import Caller, Role, require_role

SR_DESTINATION = "pacs-sr"
FHIR_DESTINATION = "imaging-fhir"  # resolvers/imaging/fhir_copy.py
ANNOTATION = "ImagingAnnotation"
MAX_PER_CALL = 200


class AnnotationUseCases:
    def __init__(self, store: ImagingStore, audit: AuditTrail, config: ImagingConfig,
                 now: Callable[[], datetime]) -> None:
        self._store = store
        self._audit = audit
        self._config = config
        self._now = now

    async def _study(self, caller: Caller, study_uid: str, action: AuditAction) -> KnownStudy:
        known = await self._store.known_study(study_uid)
        if known is None:
            await self._record(caller, action, [(study_uid, None)], AuditOutcome.NOT_FOUND)
            raise NotFound(f"study {study_uid!r} has not been opened through "
                           "POST /api/clinical/dicom/access")
        return known

    async def _record(self, caller: Caller, action: AuditAction,
                      targets: list[tuple[str | None, str | None]],
                      outcome: AuditOutcome) -> None:
        await self._audit.record(audit_records(caller, action=action, resource_type=ANNOTATION,
                                               targets=targets, outcome=outcome,
                                               at=self._now()))

    async def annotate(self, caller: Caller, study_uid: str,
                       drafts: Sequence[AnnotationDraft]) -> list[AnnotationVersion]:
        require_role(caller, Role.CLINICIAN)
        known = await self._study(caller, study_uid, AuditAction.CREATE)
        given = [d.annotation_id for d in drafts if d.annotation_id is not None]
        if len(given) != len(set(given)):
            raise InvalidInput("an annotation id is given twice", details=[
                {"field": "annotations", "message": "each annotation id at most once per call"}])
        latest = await self._store.latest_versions(given)
        now = self._now()
        state = SrState.PENDING if self._config.write_sr else SrState.DISABLED
        versions: list[AnnotationVersion] = []
        for index, draft in enumerate(drafts):
            annotation_id = draft.annotation_id or new_id()
            previous = latest.get(annotation_id)
            if previous is not None and previous[1] != study_uid:
                raise Conflict(f"annotation {annotation_id!r} belongs to another study",
                               details=[{"field": f"annotations.{index}.id",
                                         "message": "belongs to another study"}])
            versions.append(AnnotationVersion(
                annotation_id=annotation_id, version=(previous[0] if previous else 0) + 1,
                study_uid=study_uid, patient_id=known.patient_id, kind=draft.kind,
                series_uid=draft.series_uid, instance_uid=draft.instance_uid,
                frame=draft.frame, coordinates=draft.coordinates, label=draft.label,
                text=draft.text, value=draft.value, unit=draft.unit,
                author=caller.principal.subject, created_at=now, sr_state=state))
        payload = {"study_uid": study_uid,
                   "versions": [[v.annotation_id, v.version] for v in versions]}
        # The FHIR Observations always; the PACS's SR unless CARI_PACS_WRITE_SR is off.
        destinations = [FHIR_DESTINATION, *([SR_DESTINATION] if self._config.write_sr else [])]
        messages = [NewOutboxMessage(destination=d, payload=payload, idempotency_key=new_id())
                    for d in destinations]
        await self._store.add_versions(versions, messages)
        await self._record(caller, AuditAction.CREATE,
                           [(v.annotation_id, known.patient_id) for v in versions]
                           or [(study_uid, known.patient_id)], AuditOutcome.SUCCESS)
        return versions

    async def page(self, caller: Caller, study_uid: str, *, after: str | None, limit: int,
                   all_versions: bool) -> AnnotationPage:
        require_role(caller, Role.CLINICIAN)
        known = await self._study(caller, study_uid, AuditAction.READ)
        found = await self._store.page(study_uid, after=after, limit=limit,
                                       all_versions=all_versions)
        await self._record(caller, AuditAction.READ, [(study_uid, known.patient_id)],
                           AuditOutcome.SUCCESS)
        return found


