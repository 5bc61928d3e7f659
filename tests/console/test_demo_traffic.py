"""`cari-gateway demo-traffic` against a gateway started as an operator starts it (a real
process), with the defaults it derives from the same settings (base URL, local-key tokens,
the Stripe endpoint secret): every kind of traffic reaches the real routes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support import live_server

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
