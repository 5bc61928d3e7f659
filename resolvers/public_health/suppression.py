"""Small-cell suppression of a published table of counts, with complementary suppression.

A table of counts (rows: places, e.g. facilities of a district; columns: categories, e.g.
age bands) is published with its row and column totals. A count from 1 to ``threshold - 1``
could identify people, so it is suppressed (primary suppression). Suppressing it alone is
not enough: the published total minus the other cells of its row gives it back. So while any
row or column holds exactly one suppressed cell, the smallest other cell of that line is
suppressed as well (complementary suppression; the smallest, to lose as little as possible),
until no line holds a single one. Zero counts are not sensitive and are published, but may be
chosen as complements.

Every suppressed cell carries its reason: ``primary`` (below the threshold) or
``complementary`` (and the row or column it protects). A line with one cell only (a table of
one column) cannot be paired: its total is held back instead.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

R = TypeVar("R", bound=Hashable)
C = TypeVar("C", bound=Hashable)

DEFAULT_THRESHOLD = 5


@dataclass(frozen=True)
class Suppression(Generic[R, C]):
    row: R
    column: C
    reason: str  # "primary" or "complementary"
    protects: str | None = None  # complementary: "row <r>" or "column <c>"


@dataclass
class SuppressedTable(Generic[R, C]):
    """The cells to publish (None where suppressed), the totals (always published: they
    are what the suppression protects against), and why each cell was held back."""

    cells: dict[tuple[R, C], int | None]
    row_totals: dict[R, int | None]
    column_totals: dict[C, int | None]
    suppressed: list[Suppression[R, C]] = field(default_factory=list)
    # Totals held back: a line with a single cell suppressed and no other cell to pair it
    # with (a one-column table) would give the cell away through its total.
    suppressed_totals: list[str] = field(default_factory=list)


def suppress(counts: Mapping[tuple[R, C], int], rows: list[R], columns: list[C], *,
             threshold: int = DEFAULT_THRESHOLD) -> SuppressedTable[R, C]:
    """Suppress ``counts`` (missing cells count 0) laid out as ``rows`` x ``columns``."""
    if threshold < 1:
        raise ValueError("the threshold is at least 1")
    grid = {(r, c): int(counts.get((r, c), 0)) for r in rows for c in columns}
    if any(v < 0 for v in grid.values()):
        raise ValueError("counts are never negative")
    held: dict[tuple[R, C], Suppression[R, C]] = {
        (r, c): Suppression(r, c, "primary") for (r, c), v in grid.items()
        if 0 < v < threshold}

    def lines() -> list[tuple[str, list[tuple[R, C]]]]:
        return ([(f"row {r}", [(r, c) for c in columns]) for r in rows]
                + [(f"column {c}", [(r, c) for r in rows]) for c in columns])

    changed = True
    while changed:  # each pass adds at least one cell, so this ends
        changed = False
        for name, line in lines():
            if sum(cell in held for cell in line) != 1:
                continue
            free = [cell for cell in line if cell not in held]
            if not free:
                continue
            # The smallest other cell; ties go to the one first in the line.
            cell = min(free, key=lambda k: grid[k])
            held[cell] = Suppression(cell[0], cell[1], "complementary", protects=name)
            changed = True
    lone = {name for name, line in lines() if sum(cell in held for cell in line) == 1}
    return SuppressedTable(
        cells={k: (None if k in held else v) for k, v in grid.items()},
        row_totals={r: None if f"row {r}" in lone else sum(grid[(r, c)] for c in columns)
                    for r in rows},
        column_totals={c: None if f"column {c}" in lone else sum(grid[(r, c)] for r in rows)
                       for c in columns},
        suppressed_totals=[name for name, _line in lines() if name in lone],
        suppressed=sorted(held.values(), key=lambda s: (rows.index(s.row),
                                                        columns.index(s.column))))
