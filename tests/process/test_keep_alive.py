"""CARI_KEEP_ALIVE_SECONDS: how long the served process keeps an idle connection open.

A load balancer reuses its idle connections to the gateway; the gateway must not close one
first (the balancer's request on it would fail), so operators set this above the balancer's
idle timeout. Checked on a real `cari-gateway serve` with a raw socket: a connection idle
for less than the setting still answers, and one idle for longer is closed by the server."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.support import live_server

pytestmark = pytest.mark.slow
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nConnection: keep-alive\r\n\r\n"


def _answer(conn: socket.socket) -> bytes:
    """One whole response (healthz answers with a Content-Length), or b'' if closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += conn.recv(4096)
    return data


def _closed_by_server(conn: socket.socket, within: float) -> bool:
    conn.settimeout(within)
    try:
        return conn.recv(1) == b""
    except TimeoutError:
        return False


def test_an_idle_connection_lives_as_long_as_the_setting_says(tmp_path: Path) -> None:
    with live_server(tmp_path / "var", {"CARI_KEEP_ALIVE_SECONDS": "3"}) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(REQUEST)
            assert _answer(conn).startswith(b"HTTP/1.1 200")
            time.sleep(1.5)  # idle for half the setting: still open, and it answers again
            conn.sendall(REQUEST)
            assert _answer(conn).startswith(b"HTTP/1.1 200")
            idle_from = time.monotonic()
            assert not _closed_by_server(conn, within=2.0)  # default 5 s would hold it too
            assert _closed_by_server(conn, within=5.0)
            assert 2.5 <= time.monotonic() - idle_from <= 4.2  # 3 s, not the default 5 s


def test_a_keep_alive_below_one_second_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="CARI_KEEP_ALIVE_SECONDS"):
        with live_server(tmp_path / "var", {"CARI_KEEP_ALIVE_SECONDS": "0"}):
            pass
