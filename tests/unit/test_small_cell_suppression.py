"""Small cells are suppressed, and no suppressed cell can be recovered from the totals."""

from __future__ import annotations

import itertools
import random

from resolvers.public_health.suppression import SuppressedTable, suppress


def _recoverable(table: SuppressedTable[str, str], rows: list[str],
                 columns: list[str]) -> list[tuple[str, str]]:
    """Suppressed cells that a published total and the published cells of its line give
    back exactly (a line holding one unknown)."""
    found = []
    for r in rows:
        unknown = [(r, c) for c in columns if table.cells[(r, c)] is None]
        if len(unknown) == 1 and table.row_totals[r] is not None:
            found.append(unknown[0])
    for c in columns:
        unknown = [(r, c) for r in rows if table.cells[(r, c)] is None]
        if len(unknown) == 1 and table.column_totals[c] is not None:
            found.append(unknown[0])
    return found


def test_a_small_cell_and_its_complements() -> None:
    rows, columns = ["Kisumu", "Siaya", "Busia"], ["<5", "5-14", "15+"]
    counts = {("Kisumu", "<5"): 12, ("Kisumu", "5-14"): 3, ("Kisumu", "15+"): 40,
              ("Siaya", "<5"): 9, ("Siaya", "5-14"): 20, ("Siaya", "15+"): 31,
              ("Busia", "<5"): 7, ("Busia", "5-14"): 15, ("Busia", "15+"): 22}
    table = suppress(counts, rows, columns)
    assert table.cells[("Kisumu", "5-14")] is None
    reasons = {(s.row, s.column): s.reason for s in table.suppressed}
    assert reasons[("Kisumu", "5-14")] == "primary"
    assert sum(r == "complementary" for r in reasons.values()) >= 2
    assert _recoverable(table, rows, columns) == []
    # Totals are the true ones, and every cell not held back is published as it is.
    assert table.row_totals == {"Kisumu": 55, "Siaya": 60, "Busia": 44}
    assert all(table.cells[k] == v for k, v in counts.items() if k not in reasons)


def test_no_small_cell_means_nothing_suppressed() -> None:
    table = suppress({("a", "x"): 5, ("a", "y"): 0}, ["a"], ["x", "y"])
    assert table.suppressed == [] and table.cells == {("a", "x"): 5, ("a", "y"): 0}


def test_a_one_column_table_holds_the_total_back() -> None:
    table = suppress({("a", "n"): 2, ("b", "n"): 30}, ["a", "b"], ["n"])
    assert table.cells[("a", "n")] is None and table.row_totals["a"] is None
    assert "row a" in table.suppressed_totals
    assert _recoverable(table, ["a", "b"], ["n"]) == []


def test_random_tables_never_leak_a_cell() -> None:
    rng = random.Random(20261207)
    for _ in range(300):
        rows = [f"r{i}" for i in range(rng.randint(1, 6))]
        columns = [f"c{j}" for j in range(rng.randint(1, 6))]
        counts = {(r, c): rng.choice([0, 0, 1, 2, 3, 4, 5, 8, 13, 40])
                  for r, c in itertools.product(rows, columns)}
        table = suppress(counts, rows, columns, threshold=5)
        assert _recoverable(table, rows, columns) == []
        assert all(table.cells[k] is None for k, v in counts.items() if 0 < v < 5)
