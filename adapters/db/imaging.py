"""ImagingStore on SQL: checked studies, and annotation versions committed with their
outbox message in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.outbox import SqlOutboxWriter
from adapters.db.tables_imaging import ImagingAnnotationRow, ImagingStudyRow
from resolvers.errors import Conflict
from resolvers.imaging.model import (
    AnnotationKind,
    AnnotationPage,
    AnnotationVersion,
    KnownStudy,
    SrState,
)
from resolvers.outbox.model import NewOutboxMessage

STUDIES = ImagingStudyRow.__table__  # type: ignore[attr-defined]
A = ImagingAnnotationRow.__table__  # type: ignore[attr-defined]


def _version(r: Any) -> AnnotationVersion:
    return AnnotationVersion(
        annotation_id=r.annotation_id, version=r.version, study_uid=r.study_uid,
        patient_id=r.patient_id, kind=AnnotationKind(r.kind), series_uid=r.series_uid,
        instance_uid=r.instance_uid, frame=r.frame,
        coordinates=tuple(float(c) for c in r.coordinates), label=r.label, text=r.text,
        value=r.value, unit=r.unit, author=r.author, created_at=r.created_at,
        sr_state=SrState(r.sr_state))


def _cursor(v: AnnotationVersion) -> str:
    return f"{v.annotation_id}:{v.version}"


class SqlImagingStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], now: Callable[[], datetime],
                 on_commit: Callable[[], None] | None = None) -> None:
        self._sessions = sessions
        self._now = now
        self._on_commit = on_commit

    async def remember_study(self, study: KnownStudy) -> None:
        async with self._sessions() as session, session.begin():
            found = (await session.execute(select(STUDIES.c.patient_id).where(
                STUDIES.c.study_uid == study.study_uid))).first()
            if found is None:
                await session.execute(insert(STUDIES).values(
                    study_uid=study.study_uid, patient_id=study.patient_id,
                    checked_at=study.checked_at))
            else:  # checked again: the PACS's answer now is the one that counts
                await session.execute(update(STUDIES).where(
                    STUDIES.c.study_uid == study.study_uid).values(
                    patient_id=study.patient_id, checked_at=study.checked_at))

    async def known_study(self, study_uid: str) -> KnownStudy | None:
        async with self._sessions() as session:
            r = (await session.execute(select(STUDIES).where(
                STUDIES.c.study_uid == study_uid))).first()
        return KnownStudy(r.study_uid, r.patient_id, r.checked_at) if r is not None else None

    async def latest_versions(self, annotation_ids: Sequence[str]
                              ) -> dict[str, tuple[int, str]]:
        if not annotation_ids:
            return {}
        async with self._sessions() as session:
            rows = (await session.execute(select(A.c.annotation_id, A.c.version, A.c.study_uid)
                                          .where(A.c.annotation_id.in_(list(annotation_ids)),
                                                 A.c.is_latest.is_(True)))).all()
        return {r.annotation_id: (r.version, r.study_uid) for r in rows}

    async def add_versions(self, versions: Sequence[AnnotationVersion],
                           messages: Sequence[NewOutboxMessage]) -> None:
        try:
            async with self._sessions() as session, session.begin():
                for v in versions:
                    if v.version > 1:
                        await session.execute(update(A).where(
                            A.c.annotation_id == v.annotation_id,
                            A.c.is_latest.is_(True)).values(is_latest=False))
                await session.execute(insert(A), [{
                    "annotation_id": v.annotation_id, "version": v.version,
                    "study_uid": v.study_uid, "patient_id": v.patient_id, "kind": v.kind.value,
                    "series_uid": v.series_uid, "instance_uid": v.instance_uid,
                    "frame": v.frame, "coordinates": list(v.coordinates), "label": v.label,
                    "text": v.text, "value": v.value, "unit": v.unit, "author": v.author[:200],
                    "created_at": v.created_at, "sr_state": v.sr_state.value,
                    "is_latest": True} for v in versions])
                if messages:
                    await SqlOutboxWriter(session, self._now).enqueue(list(messages))
        except IntegrityError:  # another writer took one of these version numbers first
            raise Conflict("an annotation was changed by someone else at the same time; "
                           "send it again") from None
        if messages and self._on_commit is not None:
            self._on_commit()

    async def get_version(self, annotation_id: str, version: int) -> AnnotationVersion | None:
        async with self._sessions() as session:
            r = (await session.execute(select(A).where(A.c.annotation_id == annotation_id,
                                                       A.c.version == version))).first()
        return _version(r) if r is not None else None

    async def page(self, study_uid: str, *, after: str | None, limit: int,
                   all_versions: bool) -> AnnotationPage:
        query = select(A).where(A.c.study_uid == study_uid)
        if not all_versions:
            query = query.where(A.c.is_latest.is_(True))
        if after:
            annotation_id, _, version = after.rpartition(":")
            number = int(version) if version.isdigit() else 0
            query = query.where(or_(A.c.annotation_id > annotation_id, and_(
                A.c.annotation_id == annotation_id, A.c.version > number)))
        query = query.order_by(A.c.annotation_id, A.c.version).limit(limit + 1)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        items = [_version(r) for r in rows[:limit]]
        return AnnotationPage(items=items,
                              next_cursor=_cursor(items[-1]) if len(rows) > limit else None)

    async def mark_sr_stored(self, annotation_id: str, version: int) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(update(A).where(A.c.annotation_id == annotation_id,
                                                  A.c.version == version)
                                  .values(sr_state=SrState.STORED.value))
