"""Memory under oversized uploads: 16 clients at once each send a 50 MB body.

One gateway process (SQLite, the rate limiter at its defaults). Its idle RSS is read from
``/proc/<pid>/status`` (VmRSS), then, per scenario, 16 raw-socket clients start a 50 MB
upload at the same moment while a sampler reads VmRSS every 20 ms; the peak is compared with
the idle figure (target: within 20 MB). Each client stops sending as soon as the server
answers or closes, as a real client would.

Scenarios, each with ``Transfer-Encoding: chunked`` and with ``Content-Length``:

* ``webhook``: ``POST /api/payments/webhooks/mpesa?token=bogus`` (public; the token is
  refused before the body is read);
* ``graphql``: ``POST /graphql`` with a valid token (the body is read up to the 1 MiB limit,
  then refused with 413; a declared length over it is refused before reading).
"""

from __future__ import annotations

import select
import socket
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._support import (
    HOST,
    ROOT,
    Options,
    cli,
    running_gateway,
    scratch_dir,
    write_result,
)

NAME = "upload_memory"
CLIENTS = 16
BODY_BYTES = 50 * 1024 * 1024
CHUNK = b"x" * (64 * 1024)
SAMPLE_SECONDS = 0.02
CLIENT_TIMEOUT = 120.0


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class Upload:
    status: int = 0
    sent: int = 0
    seconds: float = 0.0
    error: str = ""


def _head(path: str, token: str | None, chunked: bool) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {HOST}", "Content-Type: application/json"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY_BYTES}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status_of(sock: socket.socket) -> int:
    sock.settimeout(10)
    data = b""
    while b"\r\n" not in data:
        part = sock.recv(4096)
        if not part:
            break
        data += part
    fields = data.split(b" ", 2)
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0


def _upload(port: int, head: bytes, chunked: bool, start: threading.Event) -> Upload:
    result = Upload()
    frame = (b"%x\r\n" % len(CHUNK)) + CHUNK + b"\r\n" if chunked else CHUNK
    with socket.create_connection((HOST, port), timeout=CLIENT_TIMEOUT) as sock:
        start.wait()
        began = time.perf_counter()
        try:
            sock.sendall(head)
            while result.sent < BODY_BYTES:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:  # the server answered (or closed): stop sending
                    break
                sock.sendall(frame)
                result.sent += len(CHUNK)
            else:
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
        except OSError as exc:  # reset or broken pipe: the server closed; read its answer
            result.error = type(exc).__name__
        try:
            result.status = _status_of(sock)
        except OSError as exc:
            result.error = result.error or type(exc).__name__
        result.seconds = time.perf_counter() - began
    return result


def _scenario(pid: int, port: int, path: str, token: str | None, chunked: bool,
              idle: int) -> dict[str, Any]:
    start = threading.Event()
    results: list[Upload] = [Upload() for _ in range(CLIENTS)]
    head = _head(path, token, chunked)

    def client(i: int) -> None:
        try:
            results[i] = _upload(port, head, chunked, start)
        except OSError as exc:
            results[i] = Upload(error=type(exc).__name__)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(0.2)  # every connection is open before the first byte is sent
    peak = rss_bytes(pid)
    start.set()
    began = time.perf_counter()
    while any(t.is_alive() for t in threads):
        peak = max(peak, rss_bytes(pid))
        time.sleep(SAMPLE_SECONDS)
    elapsed = time.perf_counter() - began
    for t in threads:
        t.join()
    statuses: dict[str, int] = {}
    for r in results:
        key = str(r.status) if r.status else f"none ({r.error or 'no answer'})"
        statuses[key] = statuses.get(key, 0) + 1
    sent = [r.sent for r in results]
    return {"path": path.split("?")[0], "framing": "chunked" if chunked else "content-length",
            "idle_rss_bytes": idle, "peak_rss_bytes": peak, "delta_bytes": peak - idle,
            "statuses": statuses, "client_bytes_sent_median": statistics.median(sent),
            "client_bytes_sent_max": max(sent), "seconds": elapsed}


def run(options: Options) -> dict[str, Any]:
    print(f"[{NAME}] {CLIENTS} clients x {BODY_BYTES // 2**20} MB at once, VmRSS sampled "
          f"every {SAMPLE_SECONDS * 1000:.0f} ms")
    scenarios: list[dict[str, Any]] = []
    with scratch_dir(NAME, options.keep) as scratch, running_gateway(
            scratch / "data", scratch, CARI_LOG_LEVEL="WARNING",
            # The limiter as an operator runs it (gateway_env turns it off for throughput).
            CARI_RATE_LIMIT_PER_MINUTE="600", CARI_RATE_LIMIT_WEBHOOK_PER_MINUTE="1200") as gw:
        token = cli(gw.env, "token", "--sub", "bench-uploader", "--roles", "clinician")
        time.sleep(1.0)  # let start-up settle (migrations, first requests)
        for path, bearer in (("/api/payments/webhooks/mpesa?token=bogus", None),
                             ("/graphql", token)):
            for chunked in (True, False):
                idle = int(statistics.median(rss_bytes(gw.pid) for _ in range(5)))
                found = _scenario(gw.pid, gw.port, path, bearer, chunked, idle)
                scenarios.append(found)
                print(f"[{NAME}] {found['path']} {found['framing']}: idle "
                      f"{_mb(found['idle_rss_bytes'])}, peak {_mb(found['peak_rss_bytes'])} "
                      f"(+{_mb(found['delta_bytes'])}); answers {found['statuses']}; a client "
                      f"sent {_mb(found['client_bytes_sent_median'])} (median) before the "
                      f"answer; {found['seconds']:.2f} s")
                time.sleep(0.5)
    result = {"params": {"clients": CLIENTS, "body_bytes": BODY_BYTES,
                         "sample_seconds": SAMPLE_SECONDS, "target_delta_bytes": 20 * 2**20},
              "scenarios": scenarios}
    written = write_result(NAME, result)
    print(f"[{NAME}] wrote {written.relative_to(ROOT)}")
    return result


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


def rows(result: dict[str, Any]) -> list[list[str]]:
    return [[NAME, f"{s['path']} {s['framing']}",
             f"idle {_mb(s['idle_rss_bytes'])}, peak {_mb(s['peak_rss_bytes'])} "
             f"(+{_mb(s['delta_bytes'])}), {s['statuses']}"] for s in result["scenarios"]]
