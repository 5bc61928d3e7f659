"""The layout's rules, read from the import lines (ARCHITECTURE.md, "Layout"):

* no import cycle between packages (a capability of ``resolvers/`` or a kind of adapter,
  subpackages included; the top-level modules of ``resolvers/`` are the shared kernel
  every capability may use);
* ``schema/``, ``rest_compat/`` and ``resolvers/`` never import a concrete adapter;
* adapters import models and ports from ``resolvers/``, never use-case modules;
* migrations are frozen: they import nothing from ``resolvers/`` or live adapter code;
* no module over 400 lines, generated tables aside.

Where the code does not meet a rule yet, the debt is listed here by name (``KNOWN_*``), so
the tests fail on anything new and on anything that grows; each entry goes when it is paid.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schema", "rest_compat", "resolvers", "adapters")
# Debt (issue 11, structure), to pay down, never to extend.
KNOWN_CYCLES: list[frozenset[str]] = []
KNOWN_ADAPTER_REACH = {
    "adapters.db.stripe_store -> resolvers.payments.stripe_model",
    "adapters.fhir.datatypes -> resolvers.fhir.issues",
    "adapters.fhir.structure -> resolvers.fhir.issues",
    "adapters.fhir.validator -> resolvers.fhir.rules",
    "adapters.fhir.validator -> resolvers.fhir.issues",
    "adapters.fhir.validator -> resolvers.fhir",
    "adapters.medplum.mirror -> resolvers.outbox.delivery",
    # The matcher and the match index run the scoring engine's pure functions (blocking keys,
    # records, weights): domain code that adapters call, to be passed in instead.
    "adapters.mpi.matcher -> resolvers.mpi.scoring.comparators",
    "adapters.mpi.matcher -> resolvers.mpi.scoring.defaults",
    "adapters.mpi.matcher -> resolvers.mpi.scoring.engine",
    "adapters.mpi.matcher -> resolvers.mpi.scoring.fellegi_sunter",
    "adapters.mpi.matcher -> resolvers.mpi.scoring.record",
    "adapters.mpi.memory -> resolvers.mpi.scoring.blocking",
    "adapters.mpi.memory -> resolvers.mpi.scoring.engine",
    "adapters.mpi.memory -> resolvers.mpi.scoring.record",
    "adapters.db.match_index -> resolvers.mpi.scoring.blocking",
    "adapters.db.match_index -> resolvers.mpi.scoring.defaults",
    "adapters.db.match_index -> resolvers.mpi.scoring.fellegi_sunter",
    "adapters.db.match_index -> resolvers.mpi.scoring.record",
    "adapters.db.match_index -> resolvers.mpi.scoring.profile",
    "adapters.mpi.matcher -> resolvers.mpi.scoring.profile",
    "adapters.mpi.memory -> resolvers.mpi.scoring.profile",
    "adapters.outbox.webhook -> resolvers.outbox.delivery",
    "adapters.payments.mpesa.callbacks -> resolvers.payments.providers",
    "adapters.payments.mpesa.client -> resolvers.payments.providers",
    "adapters.payments.mtn_momo.client -> resolvers.payments.phone",
    "adapters.payments.mtn_momo.client -> resolvers.payments.providers",
    "adapters.payments.mtn_momo.parsing -> resolvers.payments.phone",
    "adapters.payments.mtn_momo.parsing -> resolvers.payments.providers",
    "adapters.payments.orange_money.client -> resolvers.payments.phone",
    "adapters.payments.orange_money.client -> resolvers.payments.providers",
    "adapters.payments.provider_http -> resolvers.payments.providers",
    "adapters.payments.registry -> resolvers.payments.providers",
    "adapters.payments.stripe_api.client -> resolvers.payments.providers",
    "adapters.payments.stripe_api.client -> resolvers.payments.stripe_model",
}
KNOWN_UNFROZEN_MIGRATIONS: set[str] = set()
KNOWN_LONG_MODULES: set[str] = set()
# Generated data, not code a person reads.
GENERATED = {"adapters/fhir/r4_definitions.py"}
# What adapters may import from resolvers/: models, ports, errors, the kernel's value types.
ADAPTER_VISIBLE = ("model", "models", "ports", "errors", "records", "principal", "ids",
                   "clock", "input_rules", "matching", "oru", "view")


def _modules() -> Iterator[tuple[str, Path]]:
    for top in (*PACKAGES, "app", "cli"):
        single = ROOT / f"{top}.py"
        if single.is_file():
            yield top, single
            continue
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            name = ".".join(rel.parts)
            yield name.removesuffix(".__init__"), path


MODULES = dict(_modules())


def _package(module: str) -> str:
    """The unit the no-cycle rule is about: a capability or a kind of adapter
    (``resolvers.mpi`` with its ``scoring``, ``adapters.payments`` with its providers); the
    top-level modules of ``resolvers/`` are its kernel, ``resolvers``."""
    parts = module.split(".")
    if len(parts) == 1:
        return module
    if len(parts) == 2 and MODULES[module].name != "__init__.py":
        return parts[0]
    return ".".join(parts[:2])


def _imports(module: str) -> set[str]:
    path = MODULES[module]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                keep = len(base) - node.level + (1 if path.name == "__init__.py" else 0)
                prefix = ".".join(base[:keep] + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = [prefix, *(f"{prefix}.{a.name}" for a in node.names)]
        else:
            continue
        found.update(n for n in names if n in MODULES and n != module)
    return found


IMPORTS = {module: _imports(module) for module in MODULES}


def _package_cycles() -> list[list[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in IMPORTS.items():
        for target in targets:
            if _package(module) != _package(target):
                edges[_package(module)].add(_package(target))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return cycles


def _explain(cycle: list[str]) -> str:
    members = set(cycle)
    lines = []
    for module, targets in sorted(IMPORTS.items()):
        for target in sorted(targets):
            if _package(module) in members and _package(target) in members and \
                    _package(module) != _package(target):
                lines.append(f"  {module} -> {target}")
    return "\n".join(lines)


def test_no_import_cycle_between_packages() -> None:
    new = [c for c in _package_cycles() if not any(set(c) <= known for known in KNOWN_CYCLES)]
    assert not new, "\n".join(f"cycle {c}:\n{_explain(c)}" for c in new)


def test_surfaces_and_use_cases_never_import_an_adapter() -> None:
    offenders = [f"{m} -> {t}" for m, targets in IMPORTS.items() for t in targets
                 if m.split(".")[0] in ("schema", "rest_compat", "resolvers")
                 and t.split(".")[0] == "adapters"]
    assert not offenders, "\n".join(offenders)


def test_adapters_import_only_models_and_ports_from_resolvers() -> None:
    offenders = {f"{m} -> {t}" for m, targets in IMPORTS.items() for t in targets
                 if m.startswith("adapters.") and t.startswith("resolvers.")
                 and t.rsplit(".", 1)[-1] not in ADAPTER_VISIBLE}
    assert not offenders - KNOWN_ADAPTER_REACH, "\n".join(sorted(offenders - KNOWN_ADAPTER_REACH))


def test_migrations_are_frozen() -> None:
    offenders = {f"{m} -> {t}" for m, targets in IMPORTS.items() for t in targets
                 if ".migrations.versions." in m and t != "adapters.db.types"}
    assert not offenders - KNOWN_UNFROZEN_MIGRATIONS, sorted(offenders - KNOWN_UNFROZEN_MIGRATIONS)


def test_no_module_over_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in MODULES.values()
            if str(p.relative_to(ROOT)) not in GENERATED | KNOWN_LONG_MODULES
            and (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long
    # A known long module may not grow further while it waits to be split.
    grown = {m: n for m in KNOWN_LONG_MODULES
             if (n := len((ROOT / m).read_text(encoding="utf-8").splitlines())) > 410}
    assert not grown, grown


def test_known_debt_is_still_owed() -> None:
    """An entry that no longer applies must be struck from the lists above."""
    cycles = [set(c) for c in _package_cycles()]
    paid = [sorted(k) for k in KNOWN_CYCLES if not any(c <= k and len(c) > 1 for c in cycles)]
    reach = {f"{m} -> {t}" for m, targets in IMPORTS.items() for t in targets}
    assert not paid, f"these cycles are gone; remove them from KNOWN_CYCLES: {paid}"
    assert not KNOWN_ADAPTER_REACH - reach, KNOWN_ADAPTER_REACH - reach
    assert not KNOWN_UNFROZEN_MIGRATIONS - reach, KNOWN_UNFROZEN_MIGRATIONS - reach
