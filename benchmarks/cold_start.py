"""cold_start: launching ``python cli.py serve`` until ``GET /healthz`` answers 200.

Two variants, interleaved run by run so drift (page cache, CPU frequency) hits both alike:

* fresh  -- an empty CARI_DATA_DIR: the gateway creates the SQLite file, runs the Alembic
            migrations and generates its Ed25519 signing key;
* warm   -- a restart on the data dir the fresh run just left (migrations are a no-op,
            the key is read back).

Each launch is split into phases from the gateway's own JSON log (INFO level, a handful of
lines, so logging costs nothing measurable here):

    launch -> "Started server process"        interpreter, imports, create_app(), key
           -> "Application startup complete"  lifespan: migrations, outbox worker start
           -> first /healthz 200              socket bind + first request

Plus ``python -c "import app"`` on its own, and a ``-X importtime`` breakdown of which
top-level packages that import spends its time in.
"""

from __future__ import annotations

import datetime
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks._support import (
    APP,
    PYTHON,
    ROOT,
    GatewayProcess,
    Options,
    free_port,
    gateway_env,
    ms,
    scratch_dir,
    spread,
    write_result,
)

NAME = "cold_start"
MARKERS = {"started": "Started server process", "startup_complete": "Application startup complete"}


def _phases(gateway: GatewayProcess, total: float) -> dict[str, float]:
    """Seconds from launch to each log marker (wall clock, millisecond log timestamps)."""
    seen: dict[str, float] = {}
    for event in gateway.log_events():
        message = str(event.get("message", ""))
        for key, marker in MARKERS.items():
            if key not in seen and message.startswith(marker):
                ts = datetime.datetime.fromisoformat(str(event["ts"])).timestamp()
                seen[key] = max(0.0, ts - gateway.launched_wall)
    phases: dict[str, float] = {"total": total}
    if "started" in seen:
        phases["to_process_started"] = seen["started"]
    if "started" in seen and "startup_complete" in seen:
        phases["lifespan_startup"] = seen["startup_complete"] - seen["started"]
    if "startup_complete" in seen:
        phases["to_first_200_after_startup"] = max(0.0, total - seen["startup_complete"])
    return phases


def _launch(data_dir: Path, log_dir: Path, label: str) -> dict[str, Any]:
    port = free_port()
    gateway = GatewayProcess(gateway_env(data_dir, port, CARI_LOG_LEVEL="INFO"),
                             log_dir / f"{label}-{port}.log")
    gateway.start()
    try:
        total = gateway.wait_healthy()
    finally:
        shutdown = gateway.stop()
    result = _phases(gateway, total)
    result["shutdown"] = shutdown
    return result


IMPORT_PROBE = ("import time; t = time.perf_counter(); import app; "
                "print(time.perf_counter() - t, flush=True)")


def _import_only(runs: int) -> list[dict[str, float]]:
    """``import app`` timed inside a fresh interpreter, and that whole process's wall time
    (interpreter start + import + interpreter exit, whose final GC pass is not free)."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run([PYTHON, "-c", IMPORT_PROBE], cwd=ROOT, check=True, timeout=120,
                             capture_output=True, text=True)
        wall = time.perf_counter() - started
        samples.append({"import": float(out.stdout.strip().splitlines()[-1]),
                        "process_wall": wall})
    return samples


def _import_breakdown(top: int = 12) -> list[dict[str, Any]]:
    """Top-level packages by their modules' own import time (``python -X importtime``)."""
    out = subprocess.run([PYTHON, "-X", "importtime", "-c", "import app"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True)
    # (depth, name, self us, cumulative us); children are listed before their parents
    entries: list[tuple[int, str, int, int]] = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own_text, cumulative_text, raw_name = line.split(":", 1)[1].split("|")
        if not cumulative_text.strip().isdigit():
            continue  # the header line
        depth = (len(raw_name) - len(raw_name.lstrip()) - 1) // 2
        entries.append((depth, raw_name.strip(), int(own_text), int(cumulative_text)))
    end = next(i for i, e in enumerate(entries) if e[0] == 0 and e[1] == "app")
    start = max((i for i, e in enumerate(entries[:end]) if e[0] == 0), default=-1) + 1
    # Self time summed per top-level package: what each distribution costs, whoever
    # happened to import it first.
    packages: dict[str, int] = {}
    for _depth, name, own, _cumulative in entries[start:end + 1]:
        root = name.split(".")[0]
        packages[root] = packages.get(root, 0) + own
    ranked = sorted(packages.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [{"package": name, "self_s": us / 1e6} for name, us in ranked]


def run(options: Options) -> dict[str, Any]:
    runs = max(1, options.runs)
    fresh: list[dict[str, Any]] = []
    warm: list[dict[str, Any]] = []
    print(f"[{NAME}] {runs} fresh + {runs} warm launches of `python {APP.name} serve`")
    with scratch_dir(NAME, options.keep) as scratch:
        for i in range(runs):
            data_dir = scratch / f"data-{i}"
            data_dir.mkdir()
            fresh.append(_launch(data_dir, scratch, f"fresh-{i}"))
            if not (data_dir / "signing-key.paserk").exists():
                raise RuntimeError("the fresh start did not create the signing key")
            warm.append(_launch(data_dir, scratch, f"warm-{i}"))
            print(f"  run {i + 1}/{runs}: fresh {ms(fresh[-1]['total'])}, "
                  f"warm {ms(warm[-1]['total'])}")
    imports = _import_only(max(3, runs // 2 + 1))
    breakdown = _import_breakdown()

    def summary(samples: list[dict[str, Any]] | list[dict[str, float]]) -> dict[str, Any]:
        keys = [k for k in samples[0] if all(k in s for s in samples)]
        return {k: spread([s[k] for s in samples]) for k in keys}

    result: dict[str, Any] = {
        "params": {"runs": runs, "command": f"{PYTHON} cli.py serve", "database": "sqlite",
                   "poll_interval_s": 0.005},
        "fresh": {"summary": summary(fresh), "samples": fresh},
        "warm": {"summary": summary(warm), "samples": warm},
        "import_app": {"summary": summary(imports), "samples": imports},
        "import_breakdown": breakdown,
    }
    path = write_result(NAME, result)
    for label in ("fresh", "warm"):
        s = result[label]["summary"]
        t = s["total"]
        phases = ", ".join(f"{k} {ms(s[k]['median'])}" for k in
                           ("to_process_started", "lifespan_startup",
                            "to_first_200_after_startup") if k in s)
        print(f"[{NAME}] {label:5} start -> /healthz 200: min {ms(t['min'])}, median "
              f"{ms(t['median'])}, max {ms(t['max'])} (n={t['n']}; medians: {phases}; "
              f"shutdown {ms(s['shutdown']['median'])})")
    imp = result["import_app"]["summary"]
    top = ", ".join(f"{b['package']} {ms(b['self_s'])}" for b in breakdown[:6])
    print(f"[{NAME}] `import app` alone: median {ms(imp['import']['median'])} in-process "
          f"(`python -c 'import app'` process: {ms(imp['process_wall']['median'])} including "
          f"interpreter start and exit); heaviest imports (self time by package): {top}")
    print(f"[{NAME}] wrote {path.relative_to(ROOT)}")
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for label, title in (("fresh", "fresh data dir -> /healthz 200"),
                         ("warm", "warm restart -> /healthz 200")):
        t = result[label]["summary"]["total"]
        out.append([NAME, title, f"median {ms(t['median'])} (min {ms(t['min'])}, "
                                 f"max {ms(t['max'])}, n={t['n']})"])
    imp = result["import_app"]["summary"]
    out.append([NAME, "`import app` only (in-process)", f"median {ms(imp['import']['median'])}"])
    return out
