"""FhirRepository on SQL: current documents, every version, and an index table for search."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    delete,
    func,
    insert,
    not_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.compiled import FastSelect
from adapters.db.dialect import dialect_name, insert_for
from adapters.db.read_connection import fetch_keys
from adapters.db.tables import FhirResourceRow, FhirResourceVersionRow, FhirSearchIndexRow
from resolvers.fhir.model import (
    Condition,
    DateBound,
    IndexEntry,
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


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def date_matches(lo: Any, hi: Any, bound: DateBound) -> ColumnElement[bool]:
    """FHIR date prefixes over half-open ranges [lo, hi) of the value and of the target."""
    inside = and_(lo >= bound.lo, hi <= bound.hi)
    table: dict[str, ColumnElement[bool]] = {
        "eq": inside,
        "ne": not_(inside),
        "gt": hi > bound.hi,
        "lt": lo < bound.lo,
        "ge": hi > bound.lo,
        "le": lo < bound.hi,
    }
    return table[bound.prefix]


def _value_matches(cond: Condition, value: Any) -> ColumnElement[bool]:
    if cond.kind == "token":
        system, code = value
        clauses = []
        if system == "":
            clauses.append(I.c.system.is_(None))
        elif system is not None:
            clauses.append(I.c.system == system)
        if code is not None:
            clauses.append(I.c.value == code)
        return and_(*clauses)
    if cond.kind == "string":
        if cond.modifier == "exact":
            return I.c.value == value  # type: ignore[no-any-return]
        pattern = _escape_like(value) + "%"
        if cond.modifier == "contains":
            pattern = "%" + pattern
        return I.c.value.like(pattern, escape="\\")  # type: ignore[no-any-return]
    if cond.kind == "reference":
        if "/" in value:
            return I.c.value == value  # type: ignore[no-any-return]
        # SQLite's LIKE ignores ASCII case, so the tail is compared exactly as well (ids
        # are case-sensitive: "abc" is not "Patient/ABC").
        return and_(I.c.value.like("%/" + _escape_like(value), escape="\\"),
                    func.substr(I.c.value, func.length(I.c.value) - len(value) + 1) == value)
    return date_matches(I.c.date_lo, I.c.date_hi, value)


def _condition(cond: Condition, resource_type: str) -> ColumnElement[bool]:
    if cond.kind == "id":
        return R.c.id.in_(cond.values)  # type: ignore[no-any-return]
    if cond.kind == "lastUpdated":
        return or_(*(date_matches(R.c.last_updated, R.c.last_updated, b) for b in cond.values))
    # Driven from the index (resource_type, param, value): an IN over the matching ids, not
    # a correlated EXISTS that would visit every resource of the type.
    return R.c.id.in_(select(I.c.resource_id).where(  # type: ignore[no-any-return]
        I.c.resource_type == resource_type, I.c.param == cond.param,
        or_(*(_value_matches(cond, v) for v in cond.values)),
    ))


def _order(table: Any, request: SearchRequest) -> list[Any]:
    """The search's sort over ``table``'s columns, ties broken by id (a stable page)."""
    order = []
    for column, descending in request.sort:
        col = table.c[column]
        order.append((col.desc() if descending else col.asc()).nulls_last())
    order.append(table.c.id.asc())
    return order


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
                  "sort_date": sort_date}
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
             "sort_date": sort_date} for r, _index, sort_date in items])
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
        rows = (await self._session.execute(
            select(R).select_from(I.join(R, and_(R.c.resource_type == I.c.resource_type,
                                                 R.c.id == I.c.resource_id)))
            .where(I.c.resource_type == resource_type, I.c.param == "identifier",
                   I.c.value.in_(sorted({v for _s, v in wanted})), R.c.deleted.is_(False))
        )).mappings()
        found: dict[tuple[str, str], StoredResource] = {}
        for row in rows:
            stored = _stored(row)
            for ident in stored.document.get("identifier") or []:
                key = (str(ident.get("system")), str(ident.get("value")))
                if key in wanted:
                    found[key] = stored
        return found

    async def search(self, request: SearchRequest) -> SearchPage:
        where = [R.c.resource_type == request.resource_type, R.c.deleted.is_(False),
                 *(_condition(c, request.resource_type) for c in request.conditions)]
        if request.per_patient is not None:
            return await self._search_per_patient(request, where)
        total = (await self._session.execute(
            select(func.count()).select_from(R).where(*where))).scalar_one()
        if request.count == 0:
            return SearchPage([], int(total))
        rows = (await self._session.execute(
            select(R).where(*where).order_by(*_order(R, request))
            .limit(request.count).offset(request.offset)
        )).mappings()
        return SearchPage([_stored(r) for r in rows], int(total))

    async def _search_per_patient(self, request: SearchRequest,
                                  where: list[ColumnElement[bool]]) -> SearchPage:
        """The first ``per_patient`` resources of each patient (ranked by the search's sort
        within the patient's index value), then paged: one statement for a page of
        patients, however many results each has."""
        patient = I.alias("per_patient")
        # Ranked by key and sort columns only; the documents (the costly part to read and
        # decode) are fetched for the kept rows alone.
        ranked = (
            select(R.c.resource_type, R.c.id,
                   func.row_number().over(partition_by=patient.c.value,
                                          order_by=_order(R, request)).label("rank"))
            .select_from(R.join(patient, and_(patient.c.resource_type == R.c.resource_type,
                                              patient.c.resource_id == R.c.id,
                                              patient.c.param == "patient")))
            .where(*where).subquery()
        )
        kept = select(R).join(ranked, and_(ranked.c.resource_type == R.c.resource_type,
                                           ranked.c.id == R.c.id)) \
            .where(ranked.c.rank <= request.per_patient)
        rows = (await self._session.execute(kept.order_by(*_order(R, request)))).mappings().all()
        return SearchPage([_stored(r) for r in rows[request.offset:
                                                  request.offset + request.count]], len(rows))
