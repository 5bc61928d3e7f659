"""The gateway as an operator runs it: real processes, the CLI, signals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from svix.webhooks import Webhook

from tests.receiver import running_receiver, wait_for
from tests.support import ROOT, fresh_postgres_database, live_server

pytestmark = pytest.mark.slow
APP = str(ROOT / "cli.py")
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, base64


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, APP, *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def test_keys_generate_prints_a_paserk_pair() -> None:
    out = _run("keys", "generate")
    secret, public = out.stdout.split()
    assert out.returncode == 0 and secret.startswith("k4.secret.") and public.startswith("k4.public.")


def test_bad_settings_stop_the_process_with_named_variables(tmp_path: Path) -> None:
    out = _run("serve", env={"CARI_PORT": "eighty", "CARI_LOG_LEVEL": "LOUD",
                             "CARI_DATA_DIR": str(tmp_path)})
    assert out.returncode == 2
    assert "CARI_PORT='eighty'" in out.stderr and "CARI_LOG_LEVEL" in out.stderr


def test_token_rejects_unknown_roles(tmp_path: Path) -> None:
    out = _run("token", "--sub", "x", "--roles", "clinician,superuser",
               env={"CARI_DATA_DIR": str(tmp_path)})
    assert out.returncode != 0 and "superuser" in out.stderr


def test_fresh_start_serves_and_cli_tokens_work(tmp_path: Path) -> None:
    data = tmp_path / "var"
    with live_server(data) as server:
        assert (data / "cari.sqlite3").exists() and (data / "signing-key.paserk").exists()
        clinician = server.token("clinician")
        created = httpx.post(server.base_url + "/api/patients", json={
            "identifiers": [{"system": "urn:rw:nid", "value": "1199080012345678"}],
            "family": "Uwimana", "given": ["Aline"]},
            headers={"Authorization": f"Bearer {clinician}"})
        assert created.status_code == 201
        pid = created.json()["data"]["id"]
        query = {"query": "query($id: ID!) { patient(id: $id) { id family } }",
                 "variables": {"id": pid}}
        anonymous = httpx.post(server.base_url + "/graphql", json=query)
        assert anonymous.status_code == 401
        ok = httpx.post(server.base_url + "/graphql", json=query,
                        headers={"Authorization": f"Bearer {clinician}"})
        assert ok.json() == {"data": {"patient": {"id": pid, "family": "Uwimana"}}}
        # Logs are JSON lines and never carry the patient's name.
        time.sleep(0.2)
        log = server.log_path.read_text()
        assert '"route": "/graphql"' in log and "Uwimana" not in log and pid not in log


def test_sigterm_finishes_the_request_in_flight(tmp_path: Path) -> None:
    with live_server(tmp_path / "var") as server:
        token = server.token("clinician")
        body = b'{"family": "Banda", "given": ["Chikondi"]}'
        port = int(server.base_url.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port))
        head = (f"POST /api/patients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        sock.sendall(head + body[:10])
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert server.process.poll() is None, "server quit with a request in flight"
        sock.sendall(body[10:])
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk
        sock.close()
        assert response.startswith(b"HTTP/1.1 201"), response[:200]
        # uvicorn re-raises SIGTERM after its graceful shutdown, so -15 is a clean stop too;
        # the lifespan's closing log line shows the shutdown ran to the end.
        assert server.process.wait(timeout=20) in (0, -signal.SIGTERM)
        assert '"message": "gateway stopped"' in server.log_path.read_text()


async def test_separate_worker_processes_drain_a_shared_postgres_outbox(tmp_path: Path) -> None:
    async with fresh_postgres_database() as url, running_receiver() as receiver:
        env = {"CARI_DATABASE_URL": url, "CARI_OUTBOX_WORKER": "false",
               "CARI_EVENT_WEBHOOK_URL": receiver.url, "CARI_OUTBOUND_ALLOWLIST": "127.0.0.1",
               "CARI_OUTBOX_POLL_SECONDS": "0.1", "CARI_WEBHOOK_RETRY_SCHEDULE": "0.2,0.5,1",
               "CARI_EVENT_WEBHOOK_SECRET": SECRET}
        receiver.fail_next = 3  # a short outage while the workers run
        with live_server(tmp_path / "var", env) as server:
            token = await asyncio.to_thread(server.token, "clinician")
            async with httpx.AsyncClient(base_url=server.base_url) as client:
                for i in range(30):
                    r = await client.post("/api/patients", json={"family": f"Phiri{i}"},
                                          headers={"Authorization": f"Bearer {token}"})
                    assert r.status_code == 201
            await asyncio.sleep(0.5)
            assert receiver.attempts == []  # the server itself runs no worker here
            logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
            workers = []
            for log in logs:
                with log.open("wb") as out:  # the child keeps its own copy of the handle
                    workers.append(subprocess.Popen([sys.executable, APP, "worker"],
                                                    env=server.env, stdout=out,
                                                    stderr=subprocess.STDOUT))
            try:
                await wait_for(lambda: len(receiver.accepted) == 30, timeout=30)
                # One worker may drain everything while the other is still starting on a
                # loaded machine; a SIGTERM before its handler is installed is not a clean
                # stop of a running worker, which is what this checks.
                await wait_for(lambda: all("outbox worker started" in log.read_text()
                                           for log in logs), timeout=30)
            finally:
                for w in workers:
                    w.send_signal(signal.SIGTERM)
                for w in workers:
                    assert w.wait(timeout=20) == 0
        per_key = Counter(a["key"] for a in receiver.attempts)
        assert len(per_key) == 30
        # Each message delivered once; only the three refused attempts were retried.
        assert sum(per_key.values()) == 33
        # CARI_EVENT_WEBHOOK_URL is a subscription to every event, signed with its secret:
        # here the fhir.resource.created of each Patient.
        for attempt in receiver.attempts:  # svix raises unless a signature matches
            Webhook(SECRET).verify(json.dumps(attempt["body"], separators=(",", ":")),
                                   attempt["headers"])
            assert attempt["body"]["type"] == "fhir.resource.created"
