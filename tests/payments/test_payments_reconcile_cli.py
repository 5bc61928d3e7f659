"""`cari-gateway reconcile` as an operator runs it: a subprocess on the SQLite data directory,
settling payments pending at the fake MTN MoMo, printing counts only."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.payments.e2e_support import live_gateway, make_due, momo_env, payment, start
from tests.payments.fakes.base import serving
from tests.payments.fakes.momo import FakeMomo, MomoScenario
from tests.support import ROOT

pytestmark = pytest.mark.slow
BODY = {"provider": "mtn_momo", "amount": 1500, "currency": "EUR", "reference": "INV-7781"}
PHONES = {"paid": "46733123981", "refused": "46733123982", "waiting": "46733123983"}


def _cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CARI_")}
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), "reconcile"],
                          env={**clean, **env}, capture_output=True, text=True, timeout=60,
                          cwd=ROOT)


async def test_reconcile_command_settles_pending_payments_and_prints_counts(
        tmp_path: Path) -> None:
    data = tmp_path / "var"
    sqlite = f"sqlite+aiosqlite:///{data / 'cari.sqlite3'}"  # the default place in the data dir
    async with serving(FakeMomo()) as fake:
        assert isinstance(fake, FakeMomo)
        fake.scenarios.for_key(PHONES["paid"], MomoScenario(callback=False))
        fake.scenarios.for_key(PHONES["refused"], MomoScenario(
            "FAILED", "NOT_ENOUGH_FUNDS", callback=False))
        for phone in (PHONES["waiting"], "46733123984"):
            fake.scenarios.for_key(phone, MomoScenario(pending_forever=True, callback=False))
        ids: dict[str, str] = {}
        async with live_gateway(tmp_path, momo_env(fake), sqlite) as gw:
            for name, phone in PHONES.items():
                created = await start(gw, {**BODY, "phone": "+" + phone}, name)
                assert created["status"] == "pending"
                ids[name] = created["id"]
            not_due = await start(gw, {**BODY, "phone": "+46733123984"}, "not-due")
            for payment_id in ids.values():
                await make_due(gw, payment_id)
        # The server is stopped: only the command can settle anything now.
        env = {"CARI_DATA_DIR": str(data), **momo_env(fake),
               "CARI_OUTBOUND_ALLOWLIST": "127.0.0.1", "CARI_LOG_LEVEL": "WARNING"}
        first = await asyncio.to_thread(_cli, env)
        assert first.returncode == 0, first.stderr
        summary: dict[str, Any] = json.loads(first.stdout)
        assert summary == {"handled": 3,
                           "outcomes": {"failed": 1, "pending": 1, "succeeded": 1}}
        for secret in (*PHONES.values(), *ids.values(), *fake.transactions):
            assert secret not in first.stdout, "no personal data or ids in the summary"
        queried = {r.path.rsplit("/", 1)[1] for r in fake.requests if r.method == "GET"}
        assert len(queried) == 3 and not_due["provider_reference"] not in queried
        assert len(fake.calls("/collection/v1_0/requesttopay", "POST")) == 4  # nothing resent
        # The pending one is not due again yet: a second pass right away has nothing to do.
        second = await asyncio.to_thread(_cli, env)
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout) == {"handled": 0, "outcomes": {}}
        async with live_gateway(tmp_path, momo_env(fake), sqlite) as gw:
            paid, refused, waiting = [await payment(gw, ids[n]) for n in PHONES]
    assert paid["status"] == "succeeded" and paid["history"][-1]["source"] == "reconcile"
    assert refused["status"] == "failed" and refused["failure_reason"] == "NOT_ENOUGH_FUNDS"
    assert waiting["status"] == "pending"


def test_reconcile_command_with_nothing_to_do(tmp_path: Path) -> None:
    out = _cli({"CARI_DATA_DIR": str(tmp_path / "fresh")})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"handled": 0, "outcomes": {}}
