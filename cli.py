"""The command line (``cari-gateway``, ``python cli.py``): serve, migrate, worker,
reconcile, token, demo-traffic, mpesa-sandbox and keys. What a command runs, it asks the
composition (composition.py) for; it builds nothing itself."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from adapters.auth.keys import generate_key_pair, load_or_create_local_key
from adapters.auth.tokens import TokenIssuer
from adapters.db.engine import create_engine
from adapters.db.migrate import upgrade_to_head
from adapters.http.supervisor import Supervisor, bind, workers_refusal
from adapters.observability.logging import configure_logging, tag_worker
from adapters.settings import Settings, SettingsError, load_settings
from app import create_app
from composition import build_worker, migrate_engine, open_gateway

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("cari.app")
GC_YOUNG_THRESHOLD = 20_000


def _uvicorn_server(settings: Settings, host: str, port: int) -> uvicorn.Server:
    import gc

    import uvicorn

    app = create_app(settings)
    # Everything built so far lives as long as the process: keep it out of the collector's
    # way, or full collections over it stall requests for ~100 ms about once a second.
    gc.collect()
    gc.freeze()
    # A young collection every GC_YOUNG_THRESHOLD allocations, not CPython's 700: a page of
    # 50 patients with their results allocates tens of thousands of objects, nearly all
    # freed by reference counting before a larger threshold is reached, so the collector
    # ran ~2,000 times in 10 s and took 7% of the CPU; at 20,000 it takes well under 1%.
    # The garbage that only the collector frees (reference cycles) waits for at most that
    # many allocations: a few megabytes.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    return uvicorn.Server(uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, proxy_headers=True,
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds)))


def _serve(settings: Settings, host: str | None, port: int | None, workers: int) -> None:
    host, port = host or settings.host, port or settings.port
    if workers == 1:
        _run(_uvicorn_server(settings, host, port))
        return
    refusal = workers_refusal(settings.database_url, workers)
    if refusal is not None:
        print(f"cari-gateway: {refusal}", file=sys.stderr)
        raise SystemExit(2)
    # Once, before the workers start: the schema (they would only wait on its lock) and the
    # local signing key (every worker must verify the tokens any of them signed).
    if settings.local_signing_key:
        load_or_create_local_key(settings.data_dir)
    asyncio.run(_migrate(settings))
    sock = bind(host, port)
    log.info("serving with several workers", extra={"workers": workers, "host": host,
                                                    "port": sock.getsockname()[1]})
    raise SystemExit(Supervisor(_serve_worker, workers, sock,
                                shutdown_timeout=settings.shutdown_timeout_seconds).run())


def _serve_worker(index: int, sock: socket.socket) -> None:
    """One worker process of ``serve --workers N`` (spawned: it reads the settings anew)."""
    settings = load_settings(os.environ)
    configure_logging(settings.log_level)
    tag_worker(index)
    if index > 0:
        # One MLLP listener per machine, in worker 0: a port is bound by one process, and a
        # laboratory keeps one connection open, so more listeners would add nothing.
        settings = replace(settings, mllp_port=0)
    host, port = sock.getsockname()[:2]
    _run(_uvicorn_server(settings, host, port), sock)


def _run(server: uvicorn.Server, sock: socket.socket | None = None) -> None:
    server.run(sockets=[sock] if sock is not None else None)
    if not server.started:  # the lifespan failed (as uvicorn.run, exit 3: startup failure)
        raise SystemExit(3)


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        await migrate_engine(engine)
    finally:
        await engine.dispose()


async def _run_worker(settings: Settings) -> None:
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with open_gateway(settings, engine) as gateway:
            # The same delivery handlers as the server's own worker.
            gateway.worker = build_worker(settings, gateway.outbox_store,
                                          gateway.delivery_handlers)
            log.info("outbox worker started")
            sender = gateway.services.messaging.sender  # scheduled WhatsApp messages
            await asyncio.gather(gateway.worker.run(stop),
                                 *([sender.run(stop)] if sender is not None else []))
    finally:
        await engine.dispose()
    log.info("outbox worker stopped")


async def _reconcile(settings: Settings) -> dict[str, object]:
    """One reconciliation pass over the due open payments, as the server's task runs it."""
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    try:
        async with open_gateway(settings, engine) as gateway:
            outcomes = await gateway.services.payments.reconciler.run_pass()
    finally:
        await engine.dispose()
    # Counts only: no ids, references or phone numbers.
    return {"handled": sum(outcomes.values()), "outcomes": dict(sorted(outcomes.items()))}


def _token(settings: Settings, args: argparse.Namespace) -> None:
    if not settings.local_signing_key:
        raise SystemExit("CARI_LOCAL_SIGNING_KEY is false: this gateway does not trust local "
                         "tokens; ask your identity provider for one")
    pair = load_or_create_local_key(settings.data_dir)
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    from resolvers.principal import KNOWN_ROLES

    unknown = sorted(set(roles) - KNOWN_ROLES)
    if unknown:
        raise SystemExit(f"unknown role(s): {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(KNOWN_ROLES))}")
    issuer = TokenIssuer(pair, settings.token_issuer, settings.token_audience)
    print(issuer.issue(args.sub, roles, args.scopes.split(), ttl_seconds=args.ttl,
                       organization=args.org or None))


def _demo_traffic(settings: Settings, args: argparse.Namespace) -> dict[str, int]:
    from adapters.demo.traffic import DemoOptions, send_demo_traffic

    if args.token:
        tokens = dict.fromkeys(("lab", "clinician", "billing"), args.token)
    else:  # the gateway's own local key, as `cari-gateway token` signs with
        if not settings.local_signing_key:
            raise SystemExit("CARI_LOCAL_SIGNING_KEY is false: pass --token (an admin token)")
        issuer = TokenIssuer(load_or_create_local_key(settings.data_dir),
                             settings.token_issuer, settings.token_audience)
        tokens = {role: issuer.issue("demo-traffic", [role], [], ttl_seconds=3600)
                  for role in ("lab", "clinician", "billing")}
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    mllp = None
    if args.mllp:
        mllp_host, _, mllp_port = args.mllp.rpartition(":")
        mllp = (mllp_host or "127.0.0.1", int(mllp_port))
    elif settings.mllp_port:
        mllp = (host, settings.mllp_port)
    secret = args.stripe_secret if args.stripe_secret is not None else next(
        iter(settings.stripe_webhook_secrets), "")
    return asyncio.run(send_demo_traffic(DemoOptions(
        base_url=(args.base_url or f"http://{host}:{settings.port}").rstrip("/"), tokens=tokens,
        messages=args.messages, patients=args.patients, webhooks=args.webhooks,
        payments=args.payments, stripe_secret=secret, mllp=mllp)))


def _apply_demo_settings(args: argparse.Namespace) -> dict[str, str]:
    """``serve --demo`` (``make run``), ``demo-traffic`` and ``mpesa-sandbox``: the local demo
    settings file (adapters/demo/quickstart.py) under what is exported; its values."""
    demo = args.command in ("demo-traffic", "mpesa-sandbox") or (
        args.command == "serve" and args.demo)
    if not demo:
        return {}
    from adapters.demo.quickstart import apply_demo_env, demo_env_path, ensure_demo_env

    path = demo_env_path(os.environ)
    if args.command == "serve":
        written = ensure_demo_env(path, args.sandbox_port)
        print(f"cari-gateway: demo settings {'written to' if written else 'read from'} {path} "
              "(variables exported in the shell win)", file=sys.stderr)
    return apply_demo_env(os.environ)


def _start_demo_sandbox(demo_file: dict[str, str]) -> subprocess.Popen[bytes] | None:
    """The M-Pesa sandbox beside ``serve --demo``, unless M-Pesa points elsewhere."""
    from adapters.demo.quickstart import sandbox_address, start_sandbox, wait_listening

    address = sandbox_address(os.environ, demo_file)
    if address is None:
        print("cari-gateway: CARI_MPESA_BASE_URL is exported: no M-Pesa sandbox started",
              file=sys.stderr)
        return None
    host, port = address
    allowed = [e.strip() for e in os.environ.get("CARI_OUTBOUND_ALLOWLIST", "").split(",")]
    if f"{host}:{port}" not in allowed:  # an exported allow-list won over the file's
        print(f"cari-gateway: add {host}:{port} to your CARI_OUTBOUND_ALLOWLIST, or the "
              "gateway will refuse to call the M-Pesa sandbox", file=sys.stderr)
    sandbox = start_sandbox(host, port)
    if wait_listening(sandbox, host, port):
        print(f"cari-gateway: M-Pesa sandbox on http://{host}:{port} (pid {sandbox.pid}); "
              "send demo traffic from another shell: cari-gateway demo-traffic",
              file=sys.stderr)
    else:
        print(f"cari-gateway: the M-Pesa sandbox did not start on {host}:{port}; M-Pesa "
              "collections will fail", file=sys.stderr)
    return sandbox


def _mpesa_sandbox(args: argparse.Namespace, demo_file: dict[str, str]) -> None:
    from adapters.demo.mpesa_sandbox import DarajaSandbox
    from adapters.demo.quickstart import (
        DEFAULT_SANDBOX_PORT,
        run_sandbox,
        sandbox_address,
        sandbox_credentials,
    )

    credentials = sandbox_credentials(os.environ)
    if credentials is None:
        raise SystemExit("cari-gateway: the sandbox checks the gateway's M-Pesa credentials: "
                         "set CARI_MPESA_CONSUMER_KEY, _CONSUMER_SECRET, _SHORTCODE and "
                         "_PASSKEY, or run `cari-gateway serve --demo` (make run) once")
    port = args.port or (sandbox_address(os.environ, demo_file) or ("", DEFAULT_SANDBOX_PORT))[1]
    run_sandbox(DarajaSandbox(credentials, callback_delay=args.callback_delay), args.host, port,
                args.parent_pid)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cari-gateway",
                                     description="Cari integration gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve HTTP (migrates the embedded default first)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=None,
                       help="server processes (default: CARI_WORKERS, else 1); more than one "
                            "needs PostgreSQL")
    serve.add_argument("--demo", action="store_true",
                       help="local demo (make run): read CARI_DATA_DIR/demo.env, written once "
                            "with a Stripe secret and M-Pesa sandbox settings, and run the "
                            "M-Pesa sandbox beside the gateway")
    serve.add_argument("--sandbox-port", type=int, default=8901,
                       help="the M-Pesa sandbox's port when demo.env is first written")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("worker", help="run the outbox worker as its own process")
    sub.add_parser("reconcile", help="run one payment reconciliation pass and print a JSON "
                                     "summary")
    token = sub.add_parser("token", help="print a v4.public token signed with the local key")
    token.add_argument("--sub", required=True, help="subject (who the token speaks for)")
    token.add_argument("--roles", required=True, help="comma-separated roles")
    token.add_argument("--scopes", default="", help='space-separated scopes, e.g. "a b"')
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.add_argument("--org", default="", help="organization id (org claim) for scoping")
    demo = sub.add_parser("demo-traffic", help="send demonstration traffic (HL7, webhooks, "
                                               "payments) through a running gateway's routes")
    demo.add_argument("--base-url", default="",
                      help="the running gateway (default: http://CARI_HOST:CARI_PORT)")
    demo.add_argument("--token", default="", help="a token to send everything with (admin); "
                                                  "default: tokens signed with the local key")
    demo.add_argument("--messages", type=int, default=300, help="HL7 ORU^R01 messages")
    demo.add_argument("--patients", type=int, default=20, help="patients registered first")
    demo.add_argument("--webhooks", type=int, default=30, help="signed Stripe events")
    demo.add_argument("--payments", type=int, default=20, help="M-Pesa collections")
    demo.add_argument("--stripe-secret", default=None,
                      help="whsec_... (default: the first of CARI_STRIPE_WEBHOOK_SECRETS)")
    demo.add_argument("--mllp", default="", help="host:port of the MLLP listener (default: "
                                                 "CARI_MLLP_PORT when set); every 5th message")
    sandbox = sub.add_parser("mpesa-sandbox", help="a local M-Pesa Daraja sandbox (OAuth, STK "
                                                   "push and query, STK callbacks)")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=0,
                         help="default: the port of the demo's CARI_MPESA_BASE_URL, else 8901")
    sandbox.add_argument("--callback-delay", type=float, default=2.0,
                         help="seconds before the customer 'answers' and the callback is sent")
    sandbox.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    keys = sub.add_parser("keys", help="key management")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser("generate", help="print a new Ed25519 key pair as PASERK")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "keys":
        pair = generate_key_pair()
        print(pair.secret_paserk)
        print(pair.public_paserk)
        return
    demo_file = _apply_demo_settings(args)
    if args.command == "mpesa-sandbox":  # needs no other setting
        configure_logging(os.environ.get("CARI_LOG_LEVEL", "INFO").upper())
        _mpesa_sandbox(args, demo_file)
        return
    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        print(f"cari-gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_level)
    if args.command == "serve":
        workers = args.workers if args.workers is not None else settings.workers
        if workers < 1:
            print("cari-gateway: --workers must be at least 1", file=sys.stderr)
            raise SystemExit(2)
        sandbox = _start_demo_sandbox(demo_file) if args.demo else None
        try:
            _serve(settings, args.host, args.port, workers)
        except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down
            if not args.demo:
                raise
        finally:  # Ctrl-C, SIGTERM or a failed start: the sandbox goes with the gateway
            if sandbox is not None:
                from adapters.demo.quickstart import stop

                stop(sandbox)
    elif args.command == "migrate":
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade_to_head(settings.database_url)
        print("database is at the latest migration")
    elif args.command == "worker":
        asyncio.run(_run_worker(settings))
    elif args.command == "reconcile":
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        print(json.dumps(asyncio.run(_reconcile(settings)), sort_keys=True))
    elif args.command == "token":
        _token(settings, args)
    elif args.command == "demo-traffic":
        print(json.dumps(_demo_traffic(settings, args), sort_keys=True))


if __name__ == "__main__":
    main()
