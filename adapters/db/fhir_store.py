"""FhirRepository on SQL: current documents, every version, and an index table for search."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic_core import from_json
from sqlalchemy import (
    and_,
    bindparam,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.compiled import FastSelect
from adapters.db.dialect import dialect_name, insert_for
from adapters.db.read_connection import ReadConnection, fetch_keys
from adapters.db.search_sql import last_updated_from_driver, statements_for
from adapters.db.tables import FhirResourceRow, FhirResourceVersionRow, FhirSearchIndexRow
from adapters.fhir.lab_views import stored_lab_view, subject_of_stored_view
from resolvers.fhir.model import (
    IndexEntry,
    SearchMatch,
    SearchPage,
    SearchRequest,
    StoredResource,
)

R = FhirResourceRow.__table__  # type: ignore[attr-defined]
V = FhirResourceVersionRow.__table__  # type: ignore[attr-defined]
I = FhirSearchIndexRow.__table__  # type: ignore[attr-defined]  # noqa: E741
_COLUMNS = tuple(c.name for c in R.columns)
_BY_IDS = FastSelect(lambda size: select(R).where(
    R.c.resource_type == bindparam("rt"), R.c.id.in_([bindparam(f"k{i}") for i in range(size)])))


# Current resources by identifier, driven from the value index (find_by_identifier): built
# once, a lab message batch runs it twice (its Observations and its reports).
_BY_IDENTIFIER = (
    select(R).select_from(I.join(R, and_(R.c.resource_type == I.c.resource_type,
                                         R.c.id == I.c.resource_id)))
    .where(I.c.resource_type == bindparam("rt"), I.c.param == "identifier",
           I.c.value.in_(bindparam("identifier_values", expanding=True)),
           R.c.deleted.is_(False)))

_UNNEST_INDEX = text(
    "INSERT INTO fhir_search_index (resource_type, resource_id, param, system, value, date_lo, "
    "date_hi) SELECT * FROM unnest(CAST(:rt AS varchar[]), CAST(:rid AS varchar[]), "
    "CAST(:param AS varchar[]), CAST(:system AS varchar[]), CAST(:value AS varchar[]), "
    "CAST(:lo AS timestamptz[]), CAST(:hi AS timestamptz[]))")


_HISTORY_COLUMNS = ("resource_type", "id", "version_id", "last_updated", "deleted", "document")
_COPY_TO_HISTORY = insert(V).from_select(
    list(_HISTORY_COLUMNS),
    select(*(R.c[c] for c in _HISTORY_COLUMNS)).where(
        R.c.resource_type == bindparam("rt"), R.c.id.in_(bindparam("ids", expanding=True))))


def _stored(r: Any) -> StoredResource:
    return StoredResource(resource_type=r["resource_type"], id=r["id"], version=r["version_id"],
                          last_updated=r["last_updated"], deleted=bool(r["deleted"]),
                          document=r["document"] or {})


class SqlFhirRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_many(self, resource_type: str, ids: Sequence[str]) -> dict[str, StoredResource]:
        if not ids:
            return {}
        rows = await fetch_keys(self._session, _BY_IDS, list(ids), {"rt": resource_type})
        return {r[1]: _stored(dict(zip(_COLUMNS, r, strict=True))) for r in rows}

    async def get_version(self, resource_type: str, id: str, version: int) -> StoredResource | None:
        row = (await self._session.execute(select(V).where(
            V.c.resource_type == resource_type, V.c.id == id, V.c.version_id == version,
        ))).mappings().first()
        return _stored(row) if row else None

    async def history(self, resource_type: str, id: str) -> list[StoredResource]:
        rows = (await self._session.execute(select(V).where(
            V.c.resource_type == resource_type, V.c.id == id).order_by(V.c.version_id.desc())
        )).mappings()
        return [_stored(r) for r in rows]

    async def put(self, resource: StoredResource, index: Sequence[IndexEntry],
                  sort_date: datetime | None, *, expected_version: int | None) -> bool:
        values = {"version_id": resource.version, "last_updated": resource.last_updated,
                  "deleted": resource.deleted, "document": resource.document,
                  "sort_date": sort_date, "lab_view": _lab_view(resource)}
        key = (R.c.resource_type == resource.resource_type, R.c.id == resource.id)
        if expected_version is None:
            # One statement: the primary key decides whether the id is new.
            created = (await self._session.execute(
                insert_for(self._session)(R)
                .values(resource_type=resource.resource_type, id=resource.id, **values)
                .on_conflict_do_nothing(index_elements=["resource_type", "id"])
                .returning(R.c.id))).first()
            if created is None:
                return False
        else:
            result = await self._session.execute(
                update(R).where(*key, R.c.version_id == expected_version).values(**values))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            await self._session.execute(delete(I).where(
                I.c.resource_type == resource.resource_type, I.c.resource_id == resource.id))
        await self._session.execute(insert(V).values(
            resource_type=resource.resource_type, id=resource.id, version_id=resource.version,
            last_updated=resource.last_updated, deleted=resource.deleted,
            document=resource.document))
        if index:
            await self._session.execute(insert(I), [
                {"resource_type": resource.resource_type, "resource_id": resource.id,
                 "param": e.param, "system": e.system, "value": e.value,
                 "date_lo": e.date_lo, "date_hi": e.date_hi} for e in index])
        return True

    async def create_many(self, items: Sequence[tuple[StoredResource, Sequence[IndexEntry],
                                                      datetime | None]]) -> None:
        """Insert new resources (fresh ids) with three multi-row statements, not three per
        resource: the lab ingest hot path writes tens of Observations per transaction."""
        if not items:
            return
        await self._session.execute(insert(R), [
            {"resource_type": r.resource_type, "id": r.id, "version_id": r.version,
             "last_updated": r.last_updated, "deleted": r.deleted, "document": r.document,
             "sort_date": sort_date, "lab_view": _lab_view(r)} for r, _index, sort_date in items])
        # The history rows are copies of the rows just inserted, copied by the database:
        # each document is encoded once, not twice (JSON encoding and binding were the
        # largest per-resource costs of a 10-OBX message).
        by_type: dict[str, list[str]] = {}
        for r, _index, _sort in items:
            by_type.setdefault(r.resource_type, []).append(r.id)
        for resource_type, ids in by_type.items():
            await self._session.execute(_COPY_TO_HISTORY, {"rt": resource_type, "ids": ids})
        entries = [(r, e) for r, index, _sort in items for e in index]
        if not entries:
            return
        if dialect_name(self._session) == "postgresql":
            # One statement over arrays: PostgreSQL's cheap bulk path (a row-by-row
            # executemany costs an executor start per row: ~80 rows per 10-OBX message).
            await self._session.execute(_UNNEST_INDEX, {
                "rt": [r.resource_type for r, _e in entries],
                "rid": [r.id for r, _e in entries], "param": [e.param for _r, e in entries],
                "system": [e.system for _r, e in entries],
                "value": [e.value for _r, e in entries],
                "lo": [e.date_lo for _r, e in entries], "hi": [e.date_hi for _r, e in entries]})
            return
        await self._session.execute(insert(I), [
            {"resource_type": r.resource_type, "resource_id": r.id, "param": e.param,
             "system": e.system, "value": e.value, "date_lo": e.date_lo, "date_hi": e.date_hi}
            for r, e in entries])

    async def find_by_identifier(self, resource_type: str, keys: Sequence[tuple[str, str]],
                                 ) -> dict[tuple[str, str], StoredResource]:
        """Current (not deleted) resources carrying any of the ``(system, value)`` identifiers,
        by identifier: one indexed read, no count."""
        if not keys:
            return {}
        wanted = set(keys)
        # Driven from the value index and joined on the primary key: a probe per identifier
        # whatever the size of the store (an IN-subquery let PostgreSQL scan the resources).
        rows = (await self._session.execute(_BY_IDENTIFIER, {
            "rt": resource_type, "identifier_values": sorted({v for _s, v in wanted})})).mappings()
        found: dict[tuple[str, str], StoredResource] = {}
        for row in rows:
            stored = _stored(row)
            for ident in stored.document.get("identifier") or []:
                key = (str(ident.get("system")), str(ident.get("value")))
                if key in wanted:
                    found[key] = stored
        return found

    async def search(self, request: SearchRequest) -> SearchPage:
        statements, values = statements_for(request)
        # The driver path hands times over as read; through a session Core converts them.
        stamp = _stamp(self._session) if isinstance(self._session, ReadConnection) else None
        if request.per_patient is not None:
            rows = await self._run(statements.page, {**values,
                                                     "per_patient": request.per_patient})
            kept = rows[request.offset:request.offset + request.count]
            return _page(kept, len(rows), stamp)
        if request.count == 0:
            return SearchPage([], int((await self._run(statements.count, values))[0][0]))
        if not statements.counts_in_page:
            total = (await self._run(statements.count, values))[0][0]
            rows = await self._run(statements.page, {**values, "limit": request.count,
                                                      "offset": request.offset})
            return _page(rows, int(total), stamp)
        rows = await self._run(statements.page, {**values, "limit": request.count,
                                                  "offset": request.offset})
        if rows:
            return _page([r[:-1] for r in rows], int(rows[0][-1]), stamp)
        # An empty page carries no total: nothing matched, or the offset is past the end.
        total = 0 if request.offset == 0 else (await self._run(statements.count, values))[0][0]
        return _page([], int(total), stamp)

    async def _run(self, statement: FastSelect, params: dict[str, Any]) -> list[Any]:
        if isinstance(self._session, ReadConnection):
            return await self._session.fetch(statement, 1, params)
        return list(await self._session.execute(statement.statement(1), params))


def _lab_view(resource: StoredResource) -> str | None:
    if resource.deleted:
        return None
    return stored_lab_view(resource.resource_type, resource.id, resource.version,
                           resource.document)


def _decode(text: str) -> dict[str, Any]:
    found: dict[str, Any] = from_json(text, cache_strings="keys")
    return found


def _stamp(reads: ReadConnection) -> Callable[[Any], datetime] | None:
    """How the driver path's page times become datetimes, for this connection's database."""
    dialect = reads.bind.dialect
    if dialect.name not in _STAMPS:
        _STAMPS[dialect.name] = last_updated_from_driver(dialect)
    return _STAMPS[dialect.name]


_STAMPS: dict[str, Callable[[Any], datetime] | None] = {}


def _page(rows: Sequence[Any], total: int,
          stamp: Callable[[Any], datetime] | None = None) -> SearchPage:
    """Rows of the page columns (PAGE_COLUMNS, then the subject reference) as a page. On the
    driver path the documents arrive as their stored JSON text (decoded already where the
    driver decodes JSON) and stay undecoded until a caller reads them, and their times as
    the driver read them, converted by ``stamp``; through a session they arrive decoded and
    converted, and ``stamp`` is None."""
    if all(isinstance(row[5], str) for row in rows):
        # Where the database left the subject out (a row with a stored lab view, on SQLite:
        # search_sql.SubjectReference), the view says it.
        return SearchPage(None, total, decode=_decode, matches=[
            SearchMatch(rt, rid, version, updated, text,
                        subject if subject is not None or lab_view is None
                        else subject_of_stored_view(rid, version, lab_view), lab_view, stamp)
            for rt, rid, version, updated, _deleted, text, lab_view, subject in rows])
    return SearchPage([StoredResource(resource_type=rt, id=rid, version=version,
                                      last_updated=updated if stamp is None else stamp(updated),
                                      deleted=bool(deleted),
                                      document=document or {})
                       for rt, rid, version, updated, deleted, document, _view, _subject
                       in rows],
                      total)
