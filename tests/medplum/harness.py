"""The Node Medplum stand-in (tests/medplum/server) as a process the tests start and stop."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ROOT, free_port

SERVER_DIR = ROOT / "tests" / "medplum" / "server"
CLIENT_ID = "cari-gateway-tests"
CLIENT_SECRET = "medplum-test-secret"


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` (>= 20.19) is not on PATH; the Medplum tests need it", pytrace=False)
    if not (SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        pytest.fail(
            f"{SERVER_DIR / 'node_modules'} is missing or incomplete: run `make test` (it runs "
            "`npm ci` there) or `cd tests/medplum/server && npm ci --no-audit --no-fund`",
            pytrace=False)
    return node


class MedplumServer:
    """One `node server.mjs` process; ``stop()`` and ``start()`` again keep the port (the
    data does not survive: it is an in-memory repository)."""

    def __init__(self, log_dir: Path, *, token_ttl_seconds: int = 3600) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log_dir = log_dir
        self._ttl = token_ttl_seconds
        self._process: subprocess.Popen[bytes] | None = None
        self._starts = 0

    def start(self) -> None:
        node = node_executable()
        self._starts += 1
        out = self._log_dir / f"medplum-{self.port}-{self._starts}.out"
        err = self._log_dir / f"medplum-{self.port}-{self._starts}.err"
        env = {**os.environ, "PORT": str(self.port), "HOST": "127.0.0.1", "CLIENT_ID": CLIENT_ID,
               "CLIENT_SECRET": CLIENT_SECRET, "TOKEN_TTL_SECONDS": str(self._ttl)}
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            self._process = subprocess.Popen([node, str(SERVER_DIR / "server.mjs")], env=env,
                                             stdout=stdout, stderr=stderr, cwd=SERVER_DIR)
        deadline = time.monotonic() + 30
        while f"listening {self.port}" not in out.read_text():
            if self._process.poll() is not None:
                raise RuntimeError(f"medplum stand-in exited: {err.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"medplum stand-in did not start: {err.read_text()[-2000:]}")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    # ------------------------------------------------------------ admin (test side)

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.base_url}/__admin/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def reset(self, *, data: bool = True) -> None:
        self._admin("POST", "reset", {"data": data})

    def faults(self, mode: str, **options: Any) -> None:
        self._admin("POST", "faults", {"mode": mode, **options})

    def revoke_tokens(self) -> None:
        self._admin("POST", "revoke-tokens")

    def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._admin("GET", "requests")
        return result

    def token_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["path"] == "/oauth2/token"]

    # Async twins, for tests that have a worker running on the event loop.
    async def afaults(self, mode: str, **options: Any) -> None:
        await asyncio.to_thread(self.faults, mode, **options)

    async def arequests(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.requests)

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    # ------------------------------------------------------------ FHIR (test side)

    def fhir(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The FHIR API for the tests' own checks and set-up: no token, never faulted, and
        not in the request log, so it does not disturb what a test counts."""
        return httpx.request(method, f"{self.base_url}/__admin/fhir/R4/{path}", timeout=10,
                             **kwargs)

    def search(self, resource_type: str, **params: str) -> list[dict[str, Any]]:
        response = self.fhir("GET", resource_type, params={"_count": "1000", **params})
        assert response.status_code == 200, response.text
        return [e["resource"] for e in response.json().get("entry", [])]

    async def asearch(self, resource_type: str, **params: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.search, resource_type, **params)
