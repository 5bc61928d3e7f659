"""Several server processes on one listening socket (``cari-gateway serve --workers N``).

The supervisor binds the HTTP socket once and hands it to N spawned worker processes; the
kernel spreads new connections over the processes accepting on it. Each worker is a whole
gateway (its own event loop, lifespan, database pool, outbound client and background
loops), and knows its index, so the caller can give work that must exist once per
machine (the MLLP listener) to worker 0 only.

A worker that dies is started again with the same index (after a pause, so a crash loop
does not spin); if one dies within its first seconds twice in a row, the configuration is
probably at fault, so the supervisor stops them all and exits non-zero instead. SIGTERM or
SIGINT stops the workers gracefully (each finishes its requests in flight) and then exits.

Several processes need a database that takes writers at once: ``workers_refusal`` says
why the embedded SQLite default cannot have them.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType

log = logging.getLogger("cari.app")

# A worker started less than this long ago that exits is counted as a failed start.
EARLY_EXIT_SECONDS = 10.0
RESTART_PAUSE_SECONDS = 1.0

WorkerTarget = Callable[[int, socket.socket], None]


def workers_refusal(database_url: str, workers: int) -> str | None:
    """Why ``workers`` processes cannot serve this database, or None when they can."""
    if workers > 1 and database_url.startswith("sqlite"):
        return (f"{workers} workers need PostgreSQL (CARI_DATABASE_URL=postgresql+asyncpg://"
                "...): the embedded SQLite database has a single writer, so processes would "
                "queue on its write lock and each would run its own outbox worker on one "
                "file. Run one worker (CARI_WORKERS=1, the default) on SQLite.")
    return None


def bind(host: str, port: int) -> socket.socket:
    """The listening socket every worker accepts on (IPv6 when the host is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass
class _Worker:
    index: int
    process: BaseProcess
    started: float


class Supervisor:
    def __init__(self, target: WorkerTarget, workers: int, sock: socket.socket, *,
                 shutdown_timeout: float) -> None:
        # spawn, not fork: a worker must not inherit the parent's threads or half-built state.
        self._context = multiprocessing.get_context("spawn")
        self._target = target
        self._count = workers
        self._sock = sock
        self._shutdown_timeout = shutdown_timeout
        self._workers: dict[int, _Worker] = {}
        self._early_exits: dict[int, int] = {}
        self._stopping = False

    def _start(self, index: int) -> None:
        process = self._context.Process(target=self._target, args=(index, self._sock),
                                        name=f"cari-worker-{index}", daemon=False)
        process.start()
        self._workers[index] = _Worker(index, process, time.monotonic())
        log.info("worker started", extra={"worker": index, "pid": process.pid})

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def run(self) -> int:
        """Start the workers and watch them until a signal (0) or a failed start (1)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        for index in range(self._count):
            self._start(index)
        code = 0
        while not self._stopping:
            time.sleep(0.2)
            for worker in list(self._workers.values()):
                if worker.process.is_alive() or self._stopping:
                    continue
                if self._restart(worker) is False:
                    code = 1
                    self._stopping = True
                    break
        self._stop_all()
        return code

    def _restart(self, worker: _Worker) -> bool:
        """Start a dead worker again; False when it keeps failing at start."""
        lived = time.monotonic() - worker.started
        early = self._early_exits.get(worker.index, 0) + 1 if lived < EARLY_EXIT_SECONDS else 0
        self._early_exits[worker.index] = early
        log.error("worker exited; starting it again",
                  extra={"worker": worker.index, "exitcode": worker.process.exitcode,
                         "lived_seconds": round(lived, 1)})
        if early >= 2:
            log.error("a worker failed twice at start: stopping the gateway",
                      extra={"worker": worker.index})
            return False
        time.sleep(RESTART_PAUSE_SECONDS)
        if not self._stopping:
            self._start(worker.index)
        return True

    def _stop_all(self) -> None:
        for worker in self._workers.values():
            if worker.process.is_alive() and worker.process.pid is not None:
                worker.process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        deadline = time.monotonic() + self._shutdown_timeout + 5
        for worker in self._workers.values():
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                log.error("worker did not stop in time; killed", extra={"worker": worker.index})
                worker.process.kill()
                worker.process.join(5)
        self._sock.close()
        log.info("all workers stopped")
