"""Shared plumbing: gateway processes, CLI tokens, result files, statistics, formatting.

Deliberately independent of ``tests/support.py`` (which pulls in pytest and the app):
the benchmark driver stays a small process so it does not compete with the server for
the machine's cores, and never imports the application itself.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "cli.py"
RESULTS = Path(__file__).resolve().parent / "results"
PYTHON = sys.executable
HOST = "127.0.0.1"


@dataclass
class Options:
    """Knobs shared by every benchmark (set from the command line in ``__main__``)."""

    runs: int = 5                 # cold_start: launches per variant
    duration: float = 10.0        # http_throughput: measured seconds per scenario
    warmup: float = 3.0           # http_throughput: discarded seconds before each scenario
    connections: tuple[int, ...] = (16,)  # http_throughput: keep-alive connections per run
    loadgen: str = "auto"         # auto | wrk | httpx
    postgres: str = "auto"        # auto (if reachable) | skip | require
    profile: bool = False         # http_throughput: extra py-spy pass per scenario
    keep: bool = False            # keep temporary data dirs and server logs
    scenarios: tuple[str, ...] = ()  # http_throughput: only these scenarios (default: all)
    extra: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def gateway_env(data_dir: Path, port: int, **overrides: str) -> dict[str, str]:
    """The environment for ``cli.py``: the caller's, minus any CARI_* it may carry.

    Inherited CARI_* settings (a CARI_DATABASE_URL in the shell, say) would silently change
    what is measured, so only the variables set here reach the gateway.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARI_")}
    env.update({"CARI_DATA_DIR": str(data_dir), "CARI_HOST": HOST, "CARI_PORT": str(port),
                "PYTHONUNBUFFERED": "1",
                # One load generator is one client: the per-client limit would cap the
                # figures. Benchmarks that measure the limiter turn it back on.
                "CARI_RATE_LIMIT_PER_MINUTE": "0", "CARI_RATE_LIMIT_WEBHOOK_PER_MINUTE": "0"})
    env.update(overrides)
    return env


def cli(env: dict[str, str], *args: str) -> str:
    """Run ``python cli.py <args>`` (e.g. ``token``) with the gateway's environment."""
    out = subprocess.run([PYTHON, str(APP), *args], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"cli.py {' '.join(args)} failed ({out.returncode}): "
                           f"{out.stderr.strip()[-2000:]}")
    return out.stdout.strip()


def http_status(port: int, path: str = "/healthz", timeout: float = 1.0) -> int | None:
    """Status of one GET, or None when nothing answers yet (refused, reset, timeout)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class GatewayProcess:
    """``python cli.py serve`` as an operator starts it, stdout+stderr to a log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.port = int(env["CARI_PORT"])
        self.base_url = f"http://{HOST}:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.launched_wall = 0.0
        self.launched = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.launched_wall = time.time()
            self.launched = time.perf_counter()
            self.process = subprocess.Popen([PYTHON, str(APP), "serve"], env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

    def wait_healthy(self, timeout: float = 60.0, poll: float = 0.005) -> float:
        """Seconds from launch until ``GET /healthz`` first answers 200."""
        assert self.process is not None
        deadline = self.launched + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            if http_status(self.port) == 200:
                return time.perf_counter() - self.launched
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no 200 from /healthz within {timeout:.0f} s:\n"
                                   f"{self.log_tail()}")
            time.sleep(poll)

    def stop(self, timeout: float = 30.0) -> float:
        """SIGTERM, then wait; returns the seconds the graceful shutdown took."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        return time.perf_counter() - started

    def cpu_seconds(self) -> float:
        """User+system CPU time of the server process (all its threads) so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def log_events(self) -> list[dict[str, Any]]:
        """The JSON log lines (adapters/observability/logging.py format)."""
        events = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    events.append(entry)
        return events


@contextlib.contextmanager
def running_gateway(data_dir: Path, log_dir: Path, **env: str) -> Iterator[GatewayProcess]:
    port = free_port()
    gateway = GatewayProcess(gateway_env(data_dir, port, **env),
                             log_dir / f"server-{port}.log")
    gateway.start()
    try:
        gateway.wait_healthy()
        yield gateway
    finally:
        gateway.stop()


@contextlib.contextmanager
def scratch_dir(name: str, keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"cari-bench-{name}-"))
    try:
        yield path
    finally:
        if keep:
            print(f"  (kept {path})")
        else:
            import shutil

            shutil.rmtree(path, ignore_errors=True)


def processes_cpu_seconds(name: str) -> dict[int, float]:
    """CPU seconds so far of every process whose command name starts with ``name``
    (PostgreSQL backends, say), by pid."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            comm = text[text.index("(") + 1:text.rindex(")")]
            if comm.startswith(name):
                fields = text.rsplit(")", 1)[1].split()
                found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return found


# ------------------------------------------------------------------ results


def _git_commit() -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=5)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                   cwd=ROOT, capture_output=True, text=True, timeout=5)
            return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    return None


def machine_info() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "git_commit": _git_commit()}


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name,
               "measured_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
               "machine": machine_info(), **data}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


# ------------------------------------------------------------------ statistics & formatting


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values),
            "n": len(values)}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request on a fresh connection: the status and the JSON answer (else its text)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw.decode(errors="replace")
