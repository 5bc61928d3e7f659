"""`cari-gateway demo-traffic` against a gateway started as an operator starts it (a real
process), with the defaults it derives from the same settings (base URL, local-key tokens,
the Stripe endpoint secret): every kind of traffic reaches the real routes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import DEAD_HIE, HIE_COUNTRIES, ROOT, free_port, live_server

pytestmark = pytest.mark.slow
SECRET = "whsec_demo_traffic_test_secret"


def test_demo_traffic_goes_through_the_real_routes(tmp_path: Path) -> None:
    with live_server(tmp_path / "var", {"CARI_STRIPE_WEBHOOK_SECRETS": SECRET}) as server:
        summary = json.loads(server.cli("demo-traffic", "--messages", "50", "--webhooks", "6",
                                        "--payments", "3"))
        assert summary["patient 201"] == 20, summary
        assert summary.get("hl7 200") == 50, summary  # matched, for review, new patients, critical values
        assert summary.get("hl7 reused-control-id 409") == 2, summary  # every 25th, refused and kept
        assert summary["stripe 200"] == 6
        assert sum(v for k, v in summary.items() if k.startswith("payment ")) == 3
        headers = {"Authorization": f"Bearer {server.token('admin')}"}
        events = httpx.get(server.base_url + "/api/webhooks/events", headers=headers).json()
        assert len(events["data"]["items"]) == 6
        alerts = httpx.get(server.base_url + "/api/lab/alerts", headers=headers).json()
        assert alerts["data"]["items"], "the critical potassium values raised alerts"
        review = httpx.get(server.base_url + "/api/mpi/review", headers=headers).json()
        assert review["data"]["items"], "misspelt names of registered patients wait for review"


TERMINAL = {"succeeded", "cancelled", "failed", "expired"}


def _demo_env(data_dir: Path, port: int) -> dict[str, str]:
    """A shell with nothing of the demo exported (as on a fresh machine)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CARI_MPESA_", "CARI_STRIPE_", "CARI_OUTBOUND_",
                                "CARI_PUBLIC_BASE_URL", "CARI_DATABASE_URL"))}
    return {**env, "CARI_DATA_DIR": str(data_dir), "CARI_PORT": str(port),
            "CARI_HOST": "127.0.0.1", **{f"CARI_HIE_{code}_BASE_URL": DEAD_HIE
                                         for code in HIE_COUNTRIES}}


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"serve --demo exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"serve --demo did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_make_run_demo_settles_stripe_and_mpesa_through_the_sandbox(tmp_path: Path) -> None:
    """`make run` (serve --demo): demo-traffic from another shell finds the same demo file,
    its Stripe events are accepted, and its M-Pesa collections are settled by the sandbox's
    callbacks; Ctrl-C on the gateway stops the sandbox too."""
    port, sandbox_port = free_port(), free_port()
    env = _demo_env(tmp_path / "var", port)
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--demo",
                                    "--sandbox-port", str(sandbox_port)], env=env, cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(process, base_url, log_path)
        assert (tmp_path / "var" / "demo.env").exists()
        assert _listening(sandbox_port), log_path.read_text()[-2000:]

        def cli(*args: str) -> str:  # another shell: the same directory, nothing exported
            return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], env=env,
                                  capture_output=True, text=True, timeout=120,
                                  check=True).stdout.strip()

        summary = json.loads(cli("demo-traffic", "--messages", "5", "--webhooks", "4",
                                 "--payments", "10"))
        assert summary.get("stripe 200") == 4, summary
        assert summary.get("payment 201") == 10, summary
        headers = {"Authorization": f"Bearer {cli('token', '--sub', 't', '--roles', 'billing')}"}
        deadline = time.monotonic() + 60
        while True:
            answer = httpx.get(base_url + "/api/payments", params={"limit": 50}, headers=headers)
            assert answer.status_code == 200, answer.text
            items = answer.json()["data"]["items"]
            states = sorted(p["status"] for p in items)
            if len(items) == 10 and set(states) <= TERMINAL:
                break
            assert time.monotonic() < deadline, f"not settled in time: {states}"
            time.sleep(0.5)
        assert states == ["cancelled"] * 2 + ["succeeded"] * 8  # every 5th push: 1032
        cancelled = next(p for p in items if p["status"] == "cancelled")
        assert cancelled["failure_reason"] == "1032: Request cancelled by user"
        assert all(p["provider_reference"].startswith("ws_CO_") for p in items)

        process.send_signal(signal.SIGINT)  # Ctrl-C: the gateway's, not the group's
        process.wait(timeout=30)
        deadline = time.monotonic() + 15
        while _listening(sandbox_port):
            assert time.monotonic() < deadline, "the sandbox outlived the gateway"
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_sandbox_does_not_outlive_a_killed_gateway(tmp_path: Path) -> None:
    """A gateway killed outright (no finally runs) leaves no sandbox listening: it watches
    the process that started it."""
    sandbox_port = free_port()
    env = {**_demo_env(tmp_path / "var", free_port()), "CARI_MPESA_CONSUMER_KEY": "k",
           "CARI_MPESA_CONSUMER_SECRET": "s", "CARI_MPESA_SHORTCODE": "174379",
           "CARI_MPESA_PASSKEY": "p"}
    starter = subprocess.Popen(  # stands in for `serve --demo`: starts the sandbox, then idles
        [sys.executable, "-c", "import sys, time\nfrom adapters.demo.quickstart import "
         "start_sandbox\nprint(start_sandbox('127.0.0.1', int(sys.argv[1])).pid, flush=True)\n"
         "time.sleep(600)", str(sandbox_port)], env=env, cwd=ROOT, stdout=subprocess.PIPE)
    assert starter.stdout is not None
    sandbox_pid = int(starter.stdout.readline())
    try:
        deadline = time.monotonic() + 30
        while not _listening(sandbox_port):
            assert time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.2)
        starter.kill()
        starter.wait()
        deadline = time.monotonic() + 15
        while _listening(sandbox_port):
            assert time.monotonic() < deadline, "the sandbox outlived the process that started it"
            time.sleep(0.2)
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()
        try:
            os.kill(sandbox_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
