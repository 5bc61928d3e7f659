"""The message log on SQL: a view over what intake already stores.

Accepted lab messages are ``lab_results`` (their channel rides in the same INSERT, migration
0018), refused ones ``lab_message_conflicts``, provider webhooks ``webhook_events``. A page
is read newest first from each source that the filters leave, by the ``(received_at, id)``
indexes (keyset: strictly before the cursor), and merged; so a page costs a few index range
reads however long the log is. What intake refused before storing anything (an unparseable
HL7 message, a webhook whose signature failed) is ``refused_messages`` (migration 0020): it
lists under the channel it came by with status ``refused``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.labs import _result
from adapters.db.refused_messages import refused_message
from adapters.db.tables import LabMessageConflictRow, LabResultRow, MpiReviewTaskRow
from adapters.db.tables_refused import RefusedMessageRow
from adapters.db.tables_webhooks import WebhookEventRow
from resolvers.labs.records import LabMessageConflict
from resolvers.operations.messages.records import (
    HL7_CHANNELS,
    HL7_STATUSES,
    REFUSED_CHANNEL,
    REFUSED_STATUS,
    WEBHOOK_PREFIX,
    WEBHOOK_STATUSES,
    LoggedMessage,
    MessageQuery,
    StoredMessage,
    WebhookEventDetail,
)

L = LabResultRow.__table__  # type: ignore[attr-defined]
C = LabMessageConflictRow.__table__  # type: ignore[attr-defined]
W = WebhookEventRow.__table__  # type: ignore[attr-defined]
T = MpiReviewTaskRow.__table__  # type: ignore[attr-defined]
R = RefusedMessageRow.__table__  # type: ignore[attr-defined]


def _sources(query: MessageQuery) -> set[str]:
    """Which of lab / conflict / webhook / refused (before storage) the channel and status
    filters leave."""
    wanted = {"lab", "conflict", "webhook", "refused"}
    channel, status = query.channel, query.status
    if channel:
        if channel == "hl7":
            wanted &= {"lab", "conflict", "refused"}
        elif channel in HL7_CHANNELS:
            wanted &= {"lab", "refused"}
        elif channel == REFUSED_CHANNEL:
            wanted &= {"conflict"}
        elif channel == "webhook" or channel.startswith(WEBHOOK_PREFIX):
            wanted &= {"webhook", "refused"}
        else:
            return set()
    if status:
        if status in HL7_STATUSES:
            wanted &= {"lab"}
        elif status == REFUSED_STATUS:
            wanted &= {"conflict", "refused"}
        elif status in WEBHOOK_STATUSES:
            wanted &= {"webhook"}
        else:
            return set()
    return wanted


def _window(stmt: Any, table: Any, query: MessageQuery) -> Any:
    at = table.c.received_at
    if query.since is not None:
        stmt = stmt.where(at >= query.since)
    if query.until is not None:
        stmt = stmt.where(at < query.until)
    if query.after is not None:
        stmt = stmt.where(tuple_(at, table.c.id) < tuple_(query.after.received_at,
                                                           query.after.id))
    return stmt.order_by(at.desc(), table.c.id.desc()).limit(query.limit + 1)


class SqlMessageLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def page(self, query: MessageQuery) -> list[LoggedMessage]:
        sources = _sources(query)
        runs: list[list[LoggedMessage]] = []
        stmt: Any
        async with self._engine.connect() as conn:
            if "lab" in sources:
                stmt = select(L.c.id, L.c.channel, L.c.status, L.c.sending_facility,
                              L.c.control_id, L.c.received_at)
                if query.channel in HL7_CHANNELS:
                    stmt = stmt.where(L.c.channel == query.channel)
                if query.status:
                    stmt = stmt.where(L.c.status == query.status)
                stmt = _match(stmt, L.c.sending_facility, L.c.control_id, query)
                rows = (await conn.execute(_window(stmt, L, query))).all()
                runs.append([LoggedMessage(r.id, r.channel, r.status, r.sending_facility,
                                           r.control_id, r.received_at, "ORU^R01")
                             for r in rows])
            if "conflict" in sources:
                stmt = _match(select(C.c.id, C.c.sending_facility, C.c.control_id,
                                     C.c.received_at),
                              C.c.sending_facility, C.c.control_id, query)
                rows = (await conn.execute(_window(stmt, C, query))).all()
                runs.append([LoggedMessage(r.id, REFUSED_CHANNEL, REFUSED_STATUS,
                                           r.sending_facility, r.control_id, r.received_at,
                                           "ORU^R01", "control id reused") for r in rows])
            if "webhook" in sources:
                stmt = select(W.c.id, W.c.provider, W.c.status, W.c.event_id,
                              W.c.event_type, W.c.received_at, W.c.last_error)
                if query.channel and query.channel.startswith(WEBHOOK_PREFIX):
                    stmt = stmt.where(W.c.provider == query.channel[len(WEBHOOK_PREFIX):])
                if query.status:
                    stmt = stmt.where(W.c.status == query.status)
                stmt = _match(stmt, W.c.provider, W.c.event_id, query)
                rows = (await conn.execute(_window(stmt, W, query))).all()
                runs.append([LoggedMessage(r.id, WEBHOOK_PREFIX + r.provider, r.status,
                                           r.provider, r.event_id, r.received_at,
                                           r.event_type, r.last_error) for r in rows])
            if "refused" in sources:
                stmt = _match(select(R.c.id, R.c.channel, R.c.sender, R.c.control_id,
                                     R.c.message_type, R.c.received_at, R.c.reason,
                                     R.c.answer),
                              R.c.sender, R.c.control_id, query)
                stmt = stmt.where(_refused_channel(query.channel))
                rows = (await conn.execute(_window(stmt, R, query))).all()
                runs.append([LoggedMessage(
                    r.id, r.channel, REFUSED_STATUS, r.sender or "", r.control_id or "",
                    r.received_at, r.message_type or _kind(r.channel), r.reason)
                    for r in rows])
        merged = heapq.merge(*runs, key=lambda m: (m.received_at, m.id), reverse=True)
        return list(_take(merged, query.limit + 1))

    async def find(self, message_id: str) -> StoredMessage | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(L).where(L.c.id == message_id))).mappings().first()
            if row is not None:
                result = _result(row)
                tasks = (await conn.execute(
                    select(T.c.candidate_patient_id).where(T.c.lab_result_id == message_id,
                                                           T.c.status == "open"))).scalars()
                entry = LoggedMessage(result.id, result.channel, result.status,
                                      result.sending_facility, result.control_id,
                                      result.received_at, "ORU^R01")
                return StoredMessage(entry, result.raw_message, lab_result=result,
                                     review_candidates=tuple(tasks))
            row = (await conn.execute(select(C).where(C.c.id == message_id))).mappings().first()
            if row is not None:
                conflict = LabMessageConflict(**dict(row))
                entry = LoggedMessage(conflict.id, REFUSED_CHANNEL, REFUSED_STATUS,
                                      conflict.sending_facility, conflict.control_id,
                                      conflict.received_at, "ORU^R01", "control id reused")
                return StoredMessage(entry, conflict.raw_message, conflict=conflict)
            row = (await conn.execute(select(R).where(R.c.id == message_id))).mappings().first()
            if row is not None:
                refused = refused_message(row)
                return StoredMessage(refused.entry(), refused.body, refused=refused)
            row = (await conn.execute(select(W).where(W.c.id == message_id))).mappings().first()
            if row is None:
                return None
            entry = LoggedMessage(row["id"], WEBHOOK_PREFIX + row["provider"], row["status"],
                                  row["provider"], row["event_id"], row["received_at"],
                                  row["event_type"], row["last_error"])
            detail = WebhookEventDetail(row["event_type"], row["subject_id"],
                                        dict(row["payload"] or {}), row["attempts"],
                                        row["last_error"], row["processed_at"])
            return StoredMessage(entry, "", webhook=detail)


def _match(stmt: Any, sender: Any, control_id: Any, query: MessageQuery) -> Any:
    if query.sender:
        stmt = stmt.where(sender == query.sender)
    if query.control_id:
        stmt = stmt.where(control_id == query.control_id)
    return stmt


def _refused_channel(channel: str | None) -> Any:
    """The refused rows a channel filter keeps (``_sources`` already chose the source)."""
    if not channel:
        return R.c.channel.is_not(None)
    if channel == "hl7":
        return R.c.channel.in_(HL7_CHANNELS)
    if channel == "webhook":
        return R.c.channel.startswith(WEBHOOK_PREFIX)
    return R.c.channel == channel


def _kind(channel: str) -> str:
    return "webhook" if channel.startswith(WEBHOOK_PREFIX) else "HL7?"


def _take(items: Iterable[LoggedMessage], n: int) -> Iterable[LoggedMessage]:
    for i, item in enumerate(items):
        if i >= n:
            return
        yield item
