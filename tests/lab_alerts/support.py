"""Helpers of the lab alert tests: a critical ORU, an in-memory message scheduler that
follows the MessageScheduler contract, the gateway served over real HTTP (WebSockets)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from adapters.settings.lab_alert_routes import LabAlertRouteSettings
from adapters.settings.labs import LabSettings
from resolvers.messaging.model import MessageRequest, ScheduledMessage
from tests.messaging.conftest import whatsapp_settings
from tests.messaging.fake_graph import FakeGraph
from tests.support import Harness, make_settings, running_app, serving_app

CRITICAL = (
    "MSH|^~\\&|LIS|{facility}|CARI|CARI|20260415120000||ORU^R01|{id}|P|2.5\r"
    "PID|1||{pid}||WANJIRU^MERCY||19880214|F\r"
    "OBR|1||ORD-{id}|BMP^Basic metabolic panel|||20260415110000|||||||||DR7^Kamau^Peter\r"
    "OBX|1|NM|2823-3^Potassium^LN||7.1|mmol/L|3.5-5.1|HH|||F")


def critical(control_id: str, facility: str = "KNH_LAB", pid: str = "K1") -> str:
    return CRITICAL.format(id=control_id, facility=facility, pid=pid)


async def ingest(h: Harness, message: str) -> dict[str, Any]:
    r = await h.client.post("/api/lab/hl7-ingest", content=message.encode(),
                            headers={**h.auth("lab"), "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def alerts(h: Harness) -> list[dict[str, Any]]:
    r = await h.client.get("/api/lab/alerts", headers=h.auth("clinician"))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["data"]["items"]
    return items


class FakeScheduler:
    """MessageScheduler: idempotent per key; no phone -> suppressed (not raised)."""

    def __init__(self) -> None:
        self.requests: dict[str, MessageRequest] = {}

    async def schedule(self, requests: Sequence[MessageRequest]) -> list[ScheduledMessage]:
        out = []
        for r in requests:
            self.requests.setdefault(r.key, r)
            status = "scheduled" if r.phone else "suppressed"
            out.append(ScheduledMessage(id=r.key, key=r.key, purpose=r.purpose, status=status,
                                        send_at=r.send_at,
                                        reason=None if r.phone else "no phone"))
        return out

    async def cancel(self, key_prefix: str) -> int:
        return 0


def alert_settings(*, routes: dict[str, list[str]] | None = None,
                   phones: tuple[tuple[str, str], ...] = (), escalate_seconds: float = 0.0,
                   max_escalations: int = 3, webhook_url: str = "") -> LabSettings:
    routing = LabAlertRouteSettings(routes=tuple((f, tuple(cs)) for f, cs in
                                                 (routes or {}).items()),
                                    clinician_phones=phones)
    return LabSettings(alert_escalate_seconds=escalate_seconds,
                       alert_max_escalations=max_escalations, alert_webhook_url=webhook_url,
                       alert_routing=routing)


ALERT_TEMPLATE = "Cari: a critical lab result needs your attention. Open {{1}}"


@contextlib.asynccontextmanager
async def served_gateway(tmp_path: Path, database_url: str, labs: LabSettings, *,
                         scheduler: FakeScheduler | None = None, graph: FakeGraph | None = None,
                         **settings: Any) -> AsyncIterator[tuple[Harness, str]]:
    """The gateway (lifespan running) over ASGI and over a real loopback port; WhatsApp
    messaging against the fake Graph API when ``graph`` is given (the clinician template
    registered there and synced)."""
    if graph is not None:
        settings["whatsapp"] = whatsapp_settings(graph)
        graph.add_template("critical_lab_alert", "en", ALERT_TEMPLATE)
    base = make_settings(tmp_path / "var", database_url, outbound_allowlist=("127.0.0.1",),
                         labs=labs, **settings)
    base = replace(base, public_base_url="https://cari.example")
    async with running_app(base, lab_alert_scheduler=scheduler) as h, \
            serving_app(h.app) as url:
        if graph is not None:
            synced = await h.client.post("/api/notifications/templates/sync",
                                         headers=h.auth("integrator"))
            assert synced.status_code == 200, synced.text
        yield h, url


# ISO date-times (2026-12-07T13:05:07.123+00:00) are taken out before a body is searched for
# the result's value: "7.1" is also the seconds of one time in ten.
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")


def without_times(text: str | bytes) -> str:
    """The text (or UTF-8 body) with every ISO date-time removed."""
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return _DATE_TIME.sub("", decoded)
