"""FHIR search statements, built and compiled once per request shape, bound per request.

Building a search's SELECT (subqueries per condition, ORs of values) and letting Core work
out its cache key cost more than the indexed lookups themselves. The statement depends only
on the request's *shape* (resource type, sort, which parameters, how many values, which
prefixes and token forms); every value is a bound parameter named ``v0``, ``v1``... in one
fixed order. :func:`search_values` lists a request's values in that order without building
anything; on the first request of a shape the builder records the values it binds and they
are checked against :func:`search_values`, so the two cannot silently drift apart.

The statements are ordinary Core SELECTs (a write unit of work runs them through its
session); a read unit of work runs them on the driver (adapters/db/read_connection.py). The
page statement leaves the document column undecoded there: callers get the stored JSON text
too, so an unchanged document can go into a response as it was stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import BindParameter

from adapters.db.compiled import Compiled, FastSelect, compile_for
from adapters.db.tables import FhirResourceRow, FhirSearchIndexRow
from resolvers.fhir.model import Condition, DateBound, SearchRequest

R = FhirResourceRow.__table__  # type: ignore[attr-defined]
I = FhirSearchIndexRow.__table__  # type: ignore[attr-defined]  # noqa: E741
PAGE_COLUMNS = ("resource_type", "id", "version_id", "last_updated", "deleted", "document",
                "lab_view")


class SubjectReference(ColumnElement[str]):
    """``subject.reference`` of the resource's document, read by the database: the audit
    trail names each result's patient without the document being decoded in Python.

    On SQLite, only for rows without a stored lab view: json_extract parses the whole
    document, a sixth of a page of 250 lab results, and the stored view says the same for
    a tenth of the cost (adapters.fhir.lab_views.subject_of_stored_view, in the page)."""

    inherit_cache = True
    type = String()


@compiles(SubjectReference, "sqlite")
def _subject_sqlite(element: SubjectReference, compiler: Any, **kw: Any) -> str:
    return (f"CASE WHEN {compiler.process(R.c.lab_view, **kw)} IS NULL THEN "
            f"json_extract({compiler.process(R.c.document, **kw)}, '$.subject.reference') END")


@compiles(SubjectReference, "postgresql")
def _subject_postgresql(element: SubjectReference, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(R.c.document, **kw)} #>> '{{subject,reference}}')"


def page_columns() -> list[Any]:
    """What a page reads of each resource: PAGE_COLUMNS, then its subject reference."""
    return [*(R.c[c] for c in PAGE_COLUMNS), SubjectReference().label("subject_reference")]
MAX_SHAPES = 512  # distinct shapes kept; a client inventing shapes only refills the cache

Binder = Callable[[Any], BindParameter[Any]]


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_pattern(cond: Condition, value: str) -> str:
    pattern = escape_like(value) + "%"
    return "%" + pattern if cond.modifier == "contains" else pattern


def _date_values(bound: DateBound) -> list[Any]:
    if bound.prefix in ("eq", "ne"):
        return [bound.lo, bound.hi]
    return [bound.hi if bound.prefix in ("gt", "le") else bound.lo]


def search_values(request: SearchRequest) -> list[Any]:
    """The request's bound values, in the order the builder binds them."""
    out: list[Any] = [request.resource_type]
    for cond in request.conditions:
        if cond.kind == "id":
            out += cond.values
            continue
        if cond.kind == "lastUpdated":
            for bound in cond.values:
                out += _date_values(bound)
            continue
        out += [request.resource_type, cond.param]
        for value in cond.values:
            if cond.kind == "token":
                system, code = value
                if system:
                    out.append(system)
                if code is not None:
                    out.append(code)
            elif cond.kind == "string":
                out.append(value if cond.modifier == "exact" else _like_pattern(cond, value))
            elif cond.kind == "reference":
                out += [value] if "/" in value else ["%/" + escape_like(value), len(value) - 1, value]
            else:
                out += _date_values(value)
    return out


def shape_of(request: SearchRequest) -> tuple[Any, ...]:
    """Everything of the request that changes the SQL text (not the bound values)."""
    conds = []
    for cond in request.conditions:
        if cond.kind == "token":
            forms: tuple[Any, ...] = tuple(
                ("" if s == "" else None if s is None else "s", c is None) for s, c in cond.values)
        elif cond.kind == "reference":
            forms = tuple("/" in v for v in cond.values)
        elif cond.kind in ("date", "lastUpdated"):
            forms = tuple(b.prefix for b in cond.values)
        else:
            forms = (len(cond.values),)
        conds.append((cond.param, cond.kind, cond.modifier, forms))
    return (tuple(conds), request.sort, request.per_patient is not None)


def date_matches(lo: Any, hi: Any, bound: DateBound, bind: Binder) -> ColumnElement[bool]:
    """FHIR date prefixes over half-open ranges [lo, hi) of the value and of the target."""
    if bound.prefix in ("eq", "ne"):
        inside = and_(lo >= bind(bound.lo), hi <= bind(bound.hi))
        return inside if bound.prefix == "eq" else not_(inside)
    target = bind(bound.hi if bound.prefix in ("gt", "le") else bound.lo)
    table: dict[str, Callable[[], ColumnElement[bool]]] = {
        "gt": lambda: hi > target, "lt": lambda: lo < target,
        "ge": lambda: hi > target, "le": lambda: lo < target}
    return table[bound.prefix]()


def _value_matches(cond: Condition, value: Any, bind: Binder,
                   index: Any = I) -> ColumnElement[bool]:
    if cond.kind == "token":
        system, code = value
        clauses = []
        if system == "":
            clauses.append(index.c.system.is_(None))
        elif system is not None:
            clauses.append(index.c.system == bind(system))
        if code is not None:
            clauses.append(index.c.value == bind(code))
        return and_(*clauses)
    if cond.kind == "string":
        if cond.modifier == "exact":
            return index.c.value == bind(value)  # type: ignore[no-any-return]
        return index.c.value.like(bind(_like_pattern(cond, value)),  # type: ignore[no-any-return]
                              escape="\\")
    if cond.kind == "reference":
        if "/" in value:
            return index.c.value == bind(value)  # type: ignore[no-any-return]
        # SQLite's LIKE ignores ASCII case, so the tail is compared exactly as well (ids
        # are case-sensitive: "abc" is not "Patient/ABC").
        like = index.c.value.like(bind("%/" + escape_like(value)), escape="\\")
        # length - (n - 1): the tail's start, with no literal that Core would bind by itself
        start = func.length(index.c.value) - bind(len(value) - 1)
        return and_(like, func.substr(index.c.value, start) == bind(value))
    return date_matches(index.c.date_lo, index.c.date_hi, value, bind)


# How selective a condition usually is, by kind (lower drives the query): a reference names
# one patient's or encounter's resources; a category, status or gender token names a large
# share of the store.
_BROAD_TOKENS = frozenset({"category", "status", "gender", "active", "intent", "priority",
                           "clinical-status", "verification-status", "type", "class"})


def _selectivity(cond: Condition) -> int:
    if cond.kind == "reference":
        return 0
    if cond.kind == "token":
        return 4 if cond.param in _BROAD_TOKENS else 1
    if cond.kind == "string":
        return 2
    return 3  # date


def driving_condition(request: SearchRequest) -> int | None:
    """The index of the condition the query is driven from (an IN over the index on
    (resource_type, param, value)); every other indexed condition is checked per candidate
    (a correlated EXISTS on (resource_type, resource_id)). None when no condition uses the
    index (ids and _lastUpdated are columns of the resource itself)."""
    indexed = [(_selectivity(c), n) for n, c in enumerate(request.conditions)
               if c.kind not in ("id", "lastUpdated")]
    return min(indexed)[1] if indexed else None


def _condition(cond: Condition, resource_type: str, bind: Binder,
               *, drives: bool) -> ColumnElement[bool]:
    if cond.kind == "id":
        return R.c.id.in_([bind(v) for v in cond.values])  # type: ignore[no-any-return]
    if cond.kind == "lastUpdated":
        return or_(*(date_matches(R.c.last_updated, R.c.last_updated, b, bind)
                     for b in cond.values))
    rt, param = bind(resource_type), bind(cond.param)
    if drives:
        # Driven from the index (resource_type, param, value): an IN over the matching ids.
        return R.c.id.in_(select(I.c.resource_id).where(  # type: ignore[no-any-return]
            I.c.resource_type == rt, I.c.param == param,
            or_(*(_value_matches(cond, v, bind) for v in cond.values)),
        ))
    # Checked on each candidate through the index (resource_type, resource_id): as an IN,
    # a broad condition (category=laboratory) made SQLite list every matching resource of
    # the store on every search, 0.7 s at 300,000 laboratory results.
    other = I.alias()
    return exists().where(
        other.c.resource_type == rt, other.c.resource_id == R.c.id,
        other.c.param == param,
        or_(*(_value_matches(cond, v, bind, other) for v in cond.values)))


def order_by(table: Any, request: SearchRequest) -> list[Any]:
    """The search's sort over ``table``'s columns, ties broken by id (a stable page)."""
    order = []
    for column, descending in request.sort:
        col = table.c[column]
        order.append((col.desc() if descending else col.asc()).nulls_last())
    order.append(table.c.id.asc())
    return order


# Page columns the driver path hands over as the driver read them: the document as its
# stored JSON text, the time for SearchMatch to convert if it is read (most answers never
# read it), and the deleted flag, false for every match.
_AS_READ = frozenset({"document", "last_updated", "deleted"})


class _PageSelect(FastSelect):
    """A page statement whose document, time and deleted flag come back as the driver read
    them (their result processors left out): see ``last_updated_from_driver``."""

    def _compile(self, dialect: Dialect, size: int) -> Compiled:
        stmt = self.statement(size)
        results = tuple(
            (i, proc) for i, column in enumerate(stmt.selected_columns)
            if column.name not in _AS_READ
            and (proc := column.type.dialect_impl(dialect).result_processor(dialect, None))
            is not None)
        return compile_for(stmt, dialect, results)


def last_updated_from_driver(dialect: Dialect) -> Callable[[Any], datetime] | None:
    """How a page's ``last_updated`` as the driver read it becomes the column's value
    (None: it already is)."""
    processor = R.c.last_updated.type.dialect_impl(dialect).result_processor(dialect, None)
    return cast(Callable[[Any], datetime] | None, processor)


def ranked_patient_condition(request: SearchRequest) -> int | None:
    """The patient condition a per-patient search ranks by (its first one)."""
    if request.per_patient is None:
        return None
    return next((n for n, c in enumerate(request.conditions)
                 if c.param == "patient" and c.kind == "reference"), None)


class SearchStatements:
    """The count and page statements of one shape."""

    def __init__(self, request: SearchRequest) -> None:
        bound: list[Any] = []

        def bind(value: Any) -> BindParameter[Any]:
            bound.append(value)
            return bindparam(f"v{len(bound) - 1}", type_=Integer if isinstance(value, int)
                             else None)

        driver = driving_condition(request)
        ranked_by = ranked_patient_condition(request)
        patient = I.alias("per_patient")

        def clause(n: int, cond: Condition) -> ColumnElement[bool]:
            if n == ranked_by:
                # Ranking a page of patients: the patient condition is the index row the
                # results are ranked by, so it drives (a value lookup per patient asked for)
                rt, param = bind(request.resource_type), bind(cond.param)
                return and_(patient.c.resource_type == rt, patient.c.param == param,
                            or_(*(_value_matches(cond, v, bind, patient) for v in cond.values)))
            return _condition(cond, request.resource_type, bind,
                              drives=n == driver and ranked_by is None)

        where = [R.c.resource_type == bind(request.resource_type), R.c.deleted.is_(False),
                 *(clause(n, c) for n, c in enumerate(request.conditions))]
        if bound != search_values(request):  # the builder and search_values disagree: a bug
            raise AssertionError(f"search values out of order for shape {shape_of(request)}")
        self.count = FastSelect(lambda _n: select(func.count()).select_from(
            R.join(patient, and_(patient.c.resource_type == R.c.resource_type,
                                 patient.c.resource_id == R.c.id)) if ranked_by is not None
            else R).where(*where))
        # With an indexed condition the page carries the total (one statement, not two) and
        # is driven from the condition: SQLite otherwise walked the sort index over every
        # resource of the type, checking each against the condition. Without one (a plain
        # listing), the sort index with a LIMIT is the fast path and the total is a count.
        self.counts_in_page = driver is not None and request.per_patient is None
        if request.per_patient is not None:
            page = self._per_patient(request, where, patient)
        elif self.counts_in_page:
            page = self._counted_page(request, where)
        else:
            page = (select(*page_columns()).where(*where)
                    .order_by(*order_by(R, request))
                    .limit(bindparam("limit", type_=Integer))
                    .offset(bindparam("offset", type_=Integer)))
        self.page = _PageSelect(lambda _n: page)

    @staticmethod
    def _counted_page(request: SearchRequest, where: list[ColumnElement[bool]]) -> Select[Any]:
        """The page's keys, each with the number of matches (a window over the whole match,
        computed before the LIMIT); the documents are read for the page's rows alone."""
        keys = (select(R.c.resource_type, R.c.id, func.count().over().label("total"))
                .where(*where).order_by(*order_by(R, request))
                .limit(bindparam("limit", type_=Integer))
                .offset(bindparam("offset", type_=Integer)).subquery("page_keys"))
        return (select(*page_columns(), keys.c.total)
                .join(keys, and_(keys.c.resource_type == R.c.resource_type,
                                 keys.c.id == R.c.id))
                .order_by(*order_by(R, request)))

    @staticmethod
    def _per_patient(request: SearchRequest, where: list[ColumnElement[bool]],
                     patient: Any) -> Select[Any]:
        """The first ``per_patient`` resources of each patient (ranked by the search's sort
        within the patient's index value): one statement for a page of patients, however
        many results each has."""
        # Ranked by key and sort columns only; the documents (the costly part to read) are
        # fetched for the kept rows alone.
        ranked = (
            select(R.c.resource_type, R.c.id,
                   func.row_number().over(partition_by=patient.c.value,
                                          order_by=order_by(R, request)).label("rank"))
            .select_from(R.join(patient, and_(patient.c.resource_type == R.c.resource_type,
                                              patient.c.resource_id == R.c.id,
                                              # a constant of the SQL text, not a value
                                              patient.c.param == literal_column("'patient'"))))
            .where(*where).subquery()
        )
        return (select(*page_columns())
                .join(ranked, and_(ranked.c.resource_type == R.c.resource_type,
                                   ranked.c.id == R.c.id))
                .where(ranked.c.rank <= bindparam("per_patient", type_=Integer))
                .order_by(*order_by(R, request)))


_SHAPES: dict[tuple[Any, ...], SearchStatements] = {}


def statements_for(request: SearchRequest) -> tuple[SearchStatements, dict[str, Any]]:
    """The statements of the request's shape, and its bound values by name."""
    key = (request.resource_type, shape_of(request))
    found = _SHAPES.get(key)
    if found is None:
        if len(_SHAPES) >= MAX_SHAPES:
            _SHAPES.clear()
        found = _SHAPES[key] = SearchStatements(request)
    values = {f"v{i}": v for i, v in enumerate(search_values(request))}
    return found, values
