"""``cari-gateway serve --workers N``: several processes on PostgreSQL, refused on SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import cli
from adapters.http.supervisor import workers_refusal
from adapters.settings import SettingsError, load_settings
from tests.support import LiveServer, free_port, fresh_postgres_database, live_server


def test_sqlite_refuses_several_workers() -> None:
    assert workers_refusal("sqlite+aiosqlite:///var/cari.sqlite3", 1) is None
    assert workers_refusal("postgresql+asyncpg://db/cari", 4) is None
    refusal = workers_refusal("sqlite+aiosqlite:///var/cari.sqlite3", 2)
    assert refusal is not None and "PostgreSQL" in refusal and "CARI_WORKERS=1" in refusal


def test_cari_workers_is_a_setting_of_at_least_one(tmp_path: Path) -> None:
    assert load_settings({"CARI_DATA_DIR": str(tmp_path), "CARI_WORKERS": "3"}).workers == 3
    with pytest.raises(SettingsError, match="CARI_WORKERS"):
        load_settings({"CARI_DATA_DIR": str(tmp_path), "CARI_WORKERS": "0"})


@pytest.mark.parametrize("how", [["--workers", "2"], []])
def test_serve_with_several_workers_on_sqlite_exits_with_the_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        how: list[str]) -> None:
    monkeypatch.delenv("CARI_DATABASE_URL", raising=False)
    monkeypatch.setenv("CARI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CARI_WORKERS", "2")
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", *how])
    assert exited.value.code == 2
    assert "2 workers need PostgreSQL" in capsys.readouterr().err
    assert not (tmp_path / "cari.sqlite3").exists()  # refused before anything was opened


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _log_lines(server: LiveServer) -> list[dict[str, object]]:
    lines = []
    for line in server.log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            lines.append(entry)
    return lines


def _started_workers(server: LiveServer) -> set[object]:
    return {e.get("worker") for e in _log_lines(server) if e["message"] == "gateway started"}


@pytest.mark.slow
async def test_two_workers_on_postgresql_serve_and_share_one_mllp_listener(
        tmp_path: Path) -> None:
    async with fresh_postgres_database() as url:
        await asyncio.to_thread(_two_workers, tmp_path, url)


def _two_workers(tmp_path: Path, postgres_url: str) -> None:
    mllp_port = free_port()
    with live_server(tmp_path / "var", {"CARI_DATABASE_URL": postgres_url, "CARI_WORKERS": "2",
                                        "CARI_MLLP_PORT": str(mllp_port),
                                        "CARI_LOG_LEVEL": "INFO"}) as server:
        assert wait_for(lambda: _started_workers(server) == {0, 1}, timeout=30)
        token = server.token("clinician")  # the one key every worker verifies with
        headers = {"Authorization": f"Bearer {token}"}
        ids = []
        for n in range(20):  # a new connection each: the kernel spreads them over workers
            created = httpx.post(server.base_url + "/api/patients", headers=headers, json={
                "identifiers": [{"system": "urn:test:nid", "value": f"W{n:04d}"}],
                "family": "Phiri", "given": ["Tawonga"]})
            assert created.status_code == 201, created.text
            ids.append(created.json()["data"]["id"])
        for pid in ids:  # whatever worker wrote it, any worker reads it
            read = httpx.get(f"{server.base_url}/api/patients/{pid}", headers=headers)
            assert read.status_code == 200 and read.json()["data"]["id"] == pid
        mllp = [e for e in _log_lines(server) if e["message"] == "MLLP listener started"]
        assert [e.get("worker") for e in mllp] == [0]  # one listener, in worker 0
        # A worker that dies is started again; the others keep serving meanwhile.
        children = _children(server.process.pid)
        assert len(children) >= 2
        os.kill(children[-1], signal.SIGKILL)
        assert wait_for(lambda: sum(1 for e in _log_lines(server)
                                    if e["message"] == "gateway started") == 3, timeout=30)
        assert httpx.get(server.base_url + "/healthz").status_code == 200
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
    assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in children)


def _children(pid: int) -> list[int]:
    """The worker processes (spawned Python children, not multiprocessing's tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return sorted(found)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True

