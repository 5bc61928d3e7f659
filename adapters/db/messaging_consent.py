"""Templates, consent (current and history) and the 24-hour windows of WhatsApp messaging."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.db.dialect import insert_for
from adapters.db.outbox import SqlOutboxWriter
from adapters.db.tables_messaging import (
    WhatsAppConsentEventRow,
    WhatsAppConsentRow,
    WhatsAppTemplateRow,
    WhatsAppWindowRow,
)
from resolvers.ids import new_id
from resolvers.messaging.model import (
    Consent,
    ConsentEvent,
    ConsentState,
    Template,
    TemplateStatus,
    placeholders,
)
from resolvers.outbox.model import NewOutboxMessage

TPL = WhatsAppTemplateRow.__table__  # type: ignore[attr-defined]
CON = WhatsAppConsentRow.__table__  # type: ignore[attr-defined]
HIST = WhatsAppConsentEventRow.__table__  # type: ignore[attr-defined]
WIN = WhatsAppWindowRow.__table__  # type: ignore[attr-defined]


def _template(r: Any) -> Template:
    return Template(name=r.name, language=r.language, status=TemplateStatus(r.status),
                    category=r.category, body=r.body, header=r.header,
                    buttons=tuple(r.buttons or ()), synced_at=r.synced_at,
                    updated_at=r.updated_at)


class SqlTemplatesAndConsent:
    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 now: Callable[[], datetime], on_commit: Callable[[], None] | None = None,
                 ) -> None:
        self._sessions = sessions
        self._now = now
        self._on_commit = on_commit

    def _committed(self) -> None:
        if self._on_commit is not None:
            self._on_commit()

    # ------------------------------------------------------------------ templates

    async def upsert_templates(self, templates: Sequence[Template]) -> None:
        now = self._now()
        async with self._sessions() as session, session.begin():
            for t in templates:
                values = {"status": t.status.value, "category": t.category[:32],
                          "body": t.body, "header": t.header, "buttons": list(t.buttons),
                          "body_params": placeholders(t.body),
                          "header_params": placeholders(t.header),
                          "synced_at": t.synced_at, "updated_at": now}
                stmt = insert_for(session)(TPL).values(
                    id=new_id(), name=t.name, language=t.language, **values)
                await session.execute(stmt.on_conflict_do_update(
                    index_elements=["name", "language"], set_=values))

    async def get_template(self, name: str, language: str) -> Template | None:
        async with self._sessions() as session:
            row = (await session.execute(select(TPL).where(
                TPL.c.name == name, TPL.c.language == language))).first()
        return _template(row) if row is not None else None

    async def list_templates(self) -> list[Template]:
        async with self._sessions() as session:
            rows = (await session.execute(
                select(TPL).order_by(TPL.c.name, TPL.c.language))).all()
        return [_template(r) for r in rows]

    # ------------------------------------------------------------------ consent

    async def consent(self, phone: str, patient_id: str) -> Consent | None:
        async with self._sessions() as session:
            rows = (await session.execute(select(CON).where(
                CON.c.phone == phone, CON.c.patient_id.in_({patient_id, ""})))).all()
        by_patient = {r.patient_id: r for r in rows}
        row = by_patient.get(patient_id) or by_patient.get("")
        if row is None:
            return None
        return Consent(row.phone, row.patient_id, ConsentState(row.state), row.source,
                       row.updated_at)

    async def set_consent(self, phone: str, patient_id: str, state: ConsentState, *,
                          source: str, actor: str, at: datetime,
                          events: Sequence[NewOutboxMessage] = ()) -> None:
        async with self._sessions() as session, session.begin():
            if patient_id == "":
                # The phone's own word applies to every patient on it.
                await session.execute(update(CON).where(CON.c.phone == phone).values(
                    state=state.value, source=source, updated_at=at))
            values = {"state": state.value, "source": source, "updated_at": at}
            await session.execute(insert_for(session)(CON).values(
                phone=phone, patient_id=patient_id, **values).on_conflict_do_update(
                index_elements=["phone", "patient_id"], set_=values))
            await session.execute(HIST.insert().values(
                id=new_id(), phone=phone, patient_id=patient_id, state=state.value,
                source=source, actor=actor[:200], at=at))
            if events:
                await SqlOutboxWriter(session, self._now).enqueue(list(events))
        if events:
            self._committed()

    async def consent_history(self, phone: str) -> list[ConsentEvent]:
        async with self._sessions() as session:
            rows = (await session.execute(select(HIST).where(HIST.c.phone == phone)
                                          .order_by(HIST.c.at, HIST.c.id))).all()
        return [ConsentEvent(r.phone, r.patient_id, ConsentState(r.state), r.source, r.actor,
                             r.at) for r in rows]

    async def consent_patients(self, phone: str) -> list[str]:
        async with self._sessions() as session:
            rows = (await session.execute(select(CON.c.patient_id).where(
                CON.c.phone == phone, CON.c.patient_id != ""))).scalars().all()
        return list(rows)

    async def forget_consent(self, phone: str) -> None:  # tests and erasure requests
        async with self._sessions() as session, session.begin():
            await session.execute(delete(CON).where(CON.c.phone == phone))

    # ------------------------------------------------------------------ windows

    async def touch_window(self, phone: str, at: datetime) -> None:
        async with self._sessions() as session, session.begin():
            stmt = insert_for(session)(WIN).values(phone=phone, last_inbound_at=at)
            # Never moves back: an old message delivered late does not shorten the window.
            await session.execute(stmt.on_conflict_do_update(
                index_elements=["phone"],
                set_={"last_inbound_at": func.max(WIN.c.last_inbound_at,
                                                  stmt.excluded.last_inbound_at)
                      if session.get_bind().dialect.name == "sqlite"
                      else func.greatest(WIN.c.last_inbound_at,
                                         stmt.excluded.last_inbound_at)}))

    async def window_opened(self, phone: str) -> datetime | None:
        async with self._sessions() as session:
            value = (await session.execute(select(WIN.c.last_inbound_at).where(
                WIN.c.phone == phone))).scalar_one_or_none()
        return value
