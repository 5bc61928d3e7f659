"""Hot point reads (and the audit INSERT) compiled once per dialect, run on the driver.

SQLAlchemy Core spends about 65 µs of Python on every ``execute`` (cache key, execution
context, result metadata), the ORM Session about twice that again; the indexed lookups of a
patient, an organization or a FHIR resource take 5 µs in SQLite itself. A
:class:`FastSelect` is an ordinary Core ``SELECT``: its text, parameter order and the
columns' own bind and result processors (UTCDateTime, JSON, dates, booleans: the same
conversions the ORM path applies) are worked out once per dialect, and each run is a
driver call plus those processors. The same statement also runs through Core where no
driver connection is at hand (a write unit of work), so both paths read the same rows.

IN lists are padded to a power of two by repeating the last key (a duplicate in an IN list
changes nothing): a handful of compiled variants serve every batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ClauseElement, Select, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]
MAX_KEYS = 256  # larger batches are cut into chunks of this size


def bucket(n: int) -> int:
    size = 1
    while size < n:
        size *= 2
    return size


def key_params(keys: Sequence[str], size: int) -> dict[str, Any]:
    """``k0``..``k{size-1}``: the keys, the last one repeated to fill the bucket."""
    last = len(keys) - 1
    return {f"k{i}": keys[min(i, last)] for i in range(size)}


@dataclass(frozen=True)
class Compiled:
    sql: str
    names: tuple[str, ...]  # parameter names in positional order
    binds: tuple[Processor | None, ...]
    results: tuple[tuple[int, Processor], ...]  # (column index, processor), where one is needed

    def positional(self, params: dict[str, Any]) -> list[Any]:
        return [value if proc is None else proc(value)
                for value, proc in zip((params[n] for n in self.names), self.binds, strict=True)]

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        if not self.results:
            return [tuple(r) for r in raw]
        out = []
        for r in raw:
            row = list(r)
            for index, proc in self.results:
                row[index] = proc(row[index])
            out.append(tuple(row))
        return out


class FastSelect:
    """A SELECT built by ``build(n)`` for ``n`` keys bound as ``k0``..``k{n-1}``."""

    def __init__(self, build: Callable[[int], Select[Any]]) -> None:
        self._build = build
        self._statements: dict[int, Select[Any]] = {}
        self._compiled: dict[tuple[str, int], Compiled] = {}

    def statement(self, size: int) -> Select[Any]:
        stmt = self._statements.get(size)
        if stmt is None:
            stmt = self._statements[size] = self._build(size)
        return stmt

    def compiled(self, dialect: Dialect, size: int) -> Compiled:
        key = (dialect.name, size)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = self._compile(dialect, size)
        return found

    def _compile(self, dialect: Dialect, size: int) -> Compiled:
        stmt = self.statement(size)
        results = tuple(
            (i, proc) for i, column in enumerate(stmt.selected_columns)
            if (proc := column.type.dialect_impl(dialect).result_processor(dialect, None))
            is not None)
        return compile_for(stmt, dialect, results)


class FastInsert:
    """An INSERT of whole rows (every column bound by its name), compiled once per dialect,
    for one ``executemany`` on the driver connection."""

    def __init__(self, table: Table) -> None:
        self.statement = insert(table)
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = compile_for(self.statement, dialect, ())
        return found


def compile_for(stmt: ClauseElement, dialect: Dialect,
                results: tuple[tuple[int, Processor], ...]) -> Compiled:
    compiled = cast(SQLCompiler, stmt.compile(dialect=dialect))
    if not compiled.positional or compiled.positiontup is None:
        raise TypeError(f"{dialect.name}: a positional paramstyle is expected")
    names = tuple(compiled.positiontup)
    binds = tuple(compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect)
                  for n in names)
    return Compiled(compiled.string, names, binds, results)
