"""The local quick start (``make run`` = ``cari-gateway serve --demo``): demo settings kept in
a plain file under the data directory, and the M-Pesa sandbox run beside the gateway.

``<CARI_DATA_DIR>/demo.env`` is written once, on the first ``serve --demo``: a random Stripe
endpoint secret, sandbox M-Pesa credentials, ``CARI_MPESA_BASE_URL`` pointing at the local
sandbox and that one host:port on ``CARI_OUTBOUND_ALLOWLIST`` (the gateway's outbound check
is unchanged: the sandbox is allowed by name). The file is read again by every later
``serve --demo``, ``mpesa-sandbox`` and ``demo-traffic`` run from the same directory, so
they agree on the secret and the credentials. A variable exported in the shell always wins
over the file. Without ``--demo`` (and for every other command) nothing reads it.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn

from adapters.demo.mpesa_sandbox import DarajaSandbox, SandboxCredentials

DEMO_ENV_NAME = "demo.env"
DEFAULT_SANDBOX_PORT = 8901
SANDBOX_SHORTCODE = "174379"  # Daraja's own sandbox paybill
HEADER = """\
# Local demo settings for `make run` (cari-gateway serve --demo), written once.
# A variable exported in your shell wins over this file. Delete the file to get new values.
# Not for production: there, set CARI_* yourself and start `cari-gateway serve`.
"""


def demo_env_path(env: Mapping[str, str]) -> Path:
    return Path(env.get("CARI_DATA_DIR", "./var")).expanduser() / DEMO_ENV_NAME


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (``#`` comments and blank lines skipped); {} if there is no file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            values[key.strip()] = value.strip()
    return values


def demo_values(sandbox_port: int) -> dict[str, str]:
    """Fresh demo settings (random secrets, so no two machines share them)."""
    sandbox = f"127.0.0.1:{sandbox_port}"
    return {
        "CARI_STRIPE_WEBHOOK_SECRETS": "whsec_" + secrets.token_urlsafe(24),
        "CARI_MPESA_BASE_URL": f"http://{sandbox}",
        "CARI_MPESA_CONSUMER_KEY": "demo-" + secrets.token_hex(8),
        "CARI_MPESA_CONSUMER_SECRET": secrets.token_urlsafe(18),
        "CARI_MPESA_SHORTCODE": SANDBOX_SHORTCODE,
        "CARI_MPESA_PASSKEY": secrets.token_hex(16),
        "CARI_OUTBOUND_ALLOWLIST": sandbox,
    }


def ensure_demo_env(path: Path, sandbox_port: int) -> bool:
    """Write the file unless it exists (owner-only: it holds secrets); True if written now."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    body = HEADER + "".join(f"{k}={v}\n" for k, v in demo_values(sandbox_port).items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(body)
    return True


def apply_demo_env(env: MutableMapping[str, str]) -> dict[str, str]:
    """Add the demo file's values that ``env`` does not set yet (what is exported wins); the
    file's values (all of them, for the caller's decisions)."""
    values = read_env_file(demo_env_path(env))
    for key, value in values.items():
        env.setdefault(key, value)
    return values


def sandbox_address(env: Mapping[str, str], file_values: Mapping[str, str]) -> tuple[str, int] | None:
    """Where the sandbox should listen: the demo's M-Pesa base URL, unless the operator
    pointed ``CARI_MPESA_BASE_URL`` elsewhere (then no sandbox is needed)."""
    ours = file_values.get("CARI_MPESA_BASE_URL", "")
    if not ours or env.get("CARI_MPESA_BASE_URL", ours) != ours:
        return None
    parts = urlsplit(ours)
    return parts.hostname or "127.0.0.1", parts.port or DEFAULT_SANDBOX_PORT


def sandbox_credentials(env: Mapping[str, str]) -> SandboxCredentials | None:
    names = ("CONSUMER_KEY", "CONSUMER_SECRET", "SHORTCODE", "PASSKEY")
    values = [env.get("CARI_MPESA_" + name, "") for name in names]
    return SandboxCredentials(*values) if all(values) else None


def start_sandbox(host: str, port: int) -> subprocess.Popen[bytes]:
    """``cari-gateway mpesa-sandbox`` as a child that exits with us (it inherits the merged
    environment, so it checks the credentials the gateway sends)."""
    cli = Path(__file__).resolve().parents[2] / "cli.py"
    command = [sys.executable, str(cli), "mpesa-sandbox", "--host", host, "--port", str(port),
               "--parent-pid", str(os.getpid())]
    return subprocess.Popen(command)  # noqa: S603 (this interpreter and our own cli.py)


def wait_listening(process: subprocess.Popen[bytes], host: str, port: int,
                   timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_sandbox(sandbox: DarajaSandbox, host: str, port: int, parent_pid: int | None) -> None:
    """Serve the sandbox until SIGINT/SIGTERM, or until ``parent_pid`` is gone (the gateway
    that started it was killed outright: no orphan is left listening)."""
    server = uvicorn.Server(uvicorn.Config(sandbox.app(), host=host, port=port,
                                           log_config=None, access_log=False))
    if parent_pid is not None:
        def watch() -> None:
            while not server.should_exit:
                if os.getppid() != parent_pid:
                    server.should_exit = True
                time.sleep(1.0)
        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down
        pass
