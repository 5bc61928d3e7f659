"""Test harness: apps on SQLite or PostgreSQL, tokens, query counting, live servers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx
import pytest
import uvicorn
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from adapters.auth.keys import load_or_create_local_key
from adapters.auth.tokens import TokenIssuer
from adapters.settings import Settings, load_settings
from app import create_app

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_DSN = os.environ.get("CARI_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
SKIP_PG = os.environ.get("CARI_TEST_SKIP_POSTGRES") == "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A new, empty database for one test; dropped afterwards."""
    if SKIP_PG:
        pytest.skip("CARI_TEST_SKIP_POSTGRES=1: PostgreSQL storage tests are NOT running")
    name = f"cari_t_{uuid.uuid4().hex[:12]}"
    try:
        await _pg_admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is required for the storage tests and is not reachable at "
            f"{PG_ADMIN_DSN} ({exc!r}). Run `make test` (it starts one), start one yourself, "
            "or set CARI_TEST_SKIP_POSTGRES=1 to skip them knowingly.", pytrace=False)
    host_part = PG_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgresql+asyncpg://{host_part}/{name}"
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def serving_app(app: Any, *, port: int | None = None,
                      lifespan: Literal["auto", "on", "off"] = "off") -> AsyncIterator[str]:
    """``app`` served by uvicorn on a loopback port (a free one unless given) for the
    duration; yields its base URL. Stand-ins, receivers and whole gateways use it."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           lifespan=lifespan))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        await task


HIE_COUNTRIES = ("KE", "GH", "NG", "ZA", "TZ", "UG", "RW", "ET")
DEAD_HIE = "http://127.0.0.1:9/fhir/r4"  # the discard port: nothing listens, nothing leaves


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    env = {"CARI_DATA_DIR": str(data_dir), "CARI_DATABASE_URL": database_url,
           "CARI_OUTBOX_POLL_SECONDS": "0.05", "CARI_LOG_LEVEL": "WARNING",
           # No test may reach a national HIE: every country points at a closed loopback
           # port unless the test gives it a stand-in.
           **{f"CARI_HIE_{code}_BASE_URL": DEAD_HIE for code in HIE_COUNTRIES}}
    settings = load_settings(env)
    return replace(settings, **overrides)


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@contextlib.contextmanager
def count_queries(*engines: AsyncEngine) -> Iterator[QueryCounter]:
    """Statements run on any of ``engines`` (pass ``Harness.engines``: reads have their own
    engine on SQLite)."""
    counter = QueryCounter()

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            counter.statements.append(statement)

    unique = list({id(e): e for e in engines}.values())
    for engine in unique:
        event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        for engine in unique:
            event.remove(engine.sync_engine, "before_cursor_execute", before)


@dataclass
class Harness:
    app: Starlette
    client: httpx.AsyncClient
    settings: Settings
    issuer: TokenIssuer
    received: list[Any] = field(default_factory=list)

    def token(self, *roles: str, sub: str = "tester", scopes: tuple[str, ...] = (),
              org: str | None = None) -> str:
        return self.issuer.issue(sub, list(roles), list(scopes), organization=org)

    def auth(self, *roles: str, sub: str = "tester", org: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*roles, sub=sub, org=org)}"}

    async def gql(self, query: str, variables: dict[str, Any] | None = None, *,
                  roles: tuple[str, ...] = ("admin",), sub: str = "tester",
                  org: str | None = None) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": query,
                                                             "variables": variables or {}},
                                          headers=self.auth(*roles, sub=sub, org=org))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    @property
    def engine(self) -> AsyncEngine:
        engine: AsyncEngine = self.app.state.engine
        return engine

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """The engine and the one reads run on (the same on PostgreSQL)."""
        reads: AsyncEngine | None = getattr(self.app.state, "read_engine", None)
        return (self.engine,) if reads is None or reads is self.engine else (self.engine, reads)

    async def create_patient(self, **body: Any) -> dict[str, Any]:
        payload = {"identifiers": [{"system": "urn:test:mrn", "value": uuid.uuid4().hex}],
                   "family": "Mwangi", "given": ["Wanjiru"], **body}
        response = await self.client.post("/api/patients", json=payload,
                                          headers=self.auth("clinician"))
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data


@contextlib.asynccontextmanager
async def running_app(settings: Settings, **kwargs: Any) -> AsyncIterator[Harness]:
    app = create_app(settings, **kwargs)
    issuer = TokenIssuer(load_or_create_local_key(settings.data_dir), settings.token_issuer,
                         settings.token_audience)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Harness(app=app, client=client, settings=settings, issuer=issuer)


@dataclass
class LiveServer:
    base_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    def cli(self, *args: str) -> str:
        out = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], env=self.env,
                             capture_output=True, text=True, timeout=60, check=True)
        return out.stdout.strip()

    def token(self, roles: str, sub: str = "live-tester") -> str:
        return self.cli("token", "--sub", sub, "--roles", roles)


@contextlib.contextmanager
def live_server(data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """`cari-gateway serve` as a real process, as an operator would start it."""
    port = free_port()
    env = {**os.environ, "CARI_DATA_DIR": str(data_dir), "CARI_PORT": str(port),
           "CARI_HOST": "127.0.0.1",
           **{f"CARI_HIE_{code}_BASE_URL": DEAD_HIE for code in HIE_COUNTRIES},
           **(extra_env or {})}
    if "CARI_DATABASE_URL" not in (extra_env or {}):
        env.pop("CARI_DATABASE_URL", None)  # the embedded default unless a test says otherwise
    log_path = data_dir.parent / f"server-{port}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield LiveServer(base_url=base_url, env=env, process=process, log_path=log_path)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
