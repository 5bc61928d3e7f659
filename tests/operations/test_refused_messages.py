"""Messages refused before storage in the message log, on SQLite and PostgreSQL: an
unparseable or unsupported HL7 message by HTTP, GraphQL and MLLP, a Stripe delivery whose
signature failed; filters and keyset pages across every source, the masked detail and its
audit, the per-minute cap with its dropped count, the prune, and accepted traffic unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.db.refused_messages import SqlRefusedMessages
from adapters.db.tables import AuditEventRow
from adapters.db.tables_refused import RefusedMessageRow
from adapters.hl7v2.mllp import send_mllp
from resolvers.operations.messages.log import MessageLog, MessageQuery
from resolvers.operations.messages.refusals import RefusalLimits, RefusedMessages, read_header
from tests.messaging.conftest import KE_PHONE, whatsapp_world
from tests.operations.test_message_log import GQL, OPERATOR, _send, every_page, message
from tests.support import Harness, make_settings, running_app
from tests.webhooks.signing import WEBHOOK_ENV, stripe_event, stripe_headers

# Parses as far as MSH and PID, then breaks the order rules: refused with 400.
BROKEN = ("MSH|^~\\&|LABSYS|GARBAGE_LAB^1.2.3^ISO|CARI|CARI|20260415120000||ORU^R01|CTRL9|P|2.5\r"
          "PID|1||PAT9^^^F^MR||ODHIAMBO^GRACE||19900315|F\r"
          "OBX|1|NM|WBC||7.5")
ADT = BROKEN.replace("ORU^R01|CTRL9", "ADT^A01|CTRL8")  # not an ORU^R01: 422
AUDIT = AuditEventRow.__table__  # type: ignore[attr-defined]
REFUSED = RefusedMessageRow.__table__  # type: ignore[attr-defined]


def _log(h: Harness) -> MessageLog:
    log: MessageLog = h.app.state.services.message_log
    return log


async def _refused_rows(h: Harness) -> int:
    async with h.engine.connect() as conn:
        return int((await conn.execute(
            select(func.count()).select_from(REFUSED))).scalar_one())


@pytest.fixture
async def h(tmp_path: Path, database_url: str) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path / "var", database_url, **WEBHOOK_ENV)
    async with running_app(settings) as harness:
        yield harness


@pytest.mark.db
async def test_refused_hl7_and_webhooks_are_logged_and_filtered(h: Harness) -> None:
    assert (await _send(h, message(1))).status_code == 200
    assert await _refused_rows(h) == 0  # accepted traffic writes nothing here
    garbage = await _send(h, "hello, this is not HL7")
    assert garbage.status_code == 400
    assert (await _send(h, BROKEN)).status_code == 400
    assert (await _send(h, ADT)).status_code == 422
    refused_gql = await h.gql(GQL, {"m": BROKEN.replace("CTRL9", "CTRL10")}, roles=("lab",))
    assert refused_gql["data"]["ingestHl7"]["__typename"] == "MalformedMessageError"
    raw = stripe_event(customer_name="Grace Odhiambo") + b" " * 2000
    forged = await h.client.post("/api/webhooks/stripe", content=raw,
                                 headers=stripe_headers(raw, secret="whsec_wrong"))
    assert forged.status_code == 401
    genuine = stripe_event()
    assert (await h.client.post("/api/webhooks/stripe", content=genuine,
                                headers=stripe_headers(genuine))).status_code == 200

    log = _log(h)
    everything = (await log.search(OPERATOR, MessageQuery())).items
    assert len(everything) == 7
    refused = (await log.search(OPERATOR, MessageQuery(status="refused"))).items
    assert [(m.channel, m.sender, m.control_id, m.summary) for m in refused] == [
        ("webhook:stripe", "stripe", "", "webhook"),
        ("hl7-graphql", "GARBAGE_LAB", "CTRL10", "ORU^R01"),
        ("hl7-http", "GARBAGE_LAB", "CTRL8", "ADT^A01"),
        ("hl7-http", "GARBAGE_LAB", "CTRL9", "ORU^R01"),
        ("hl7-http", "", "", "HL7?")]
    assert refused[-1].error == garbage.json()["error"]["message"]
    http = (await log.search(OPERATOR, MessageQuery(channel="hl7-http"))).items
    assert sorted(m.status == "refused" for m in http) == [False, True, True, True]
    assert len((await log.search(OPERATOR, MessageQuery(channel="hl7"))).items) == 5
    hooks = (await log.search(OPERATOR, MessageQuery(channel="webhook:stripe"))).items
    assert [m.status == "refused" for m in hooks] == [False, True]  # the genuine one stored
    by_id = (await log.search(OPERATOR, MessageQuery(control_id="CTRL9"))).items
    assert [m.channel for m in by_id] == ["hl7-http"]
    by_sender = (await log.search(OPERATOR, MessageQuery(sender="GARBAGE_LAB",
                                                         status="refused"))).items
    assert len(by_sender) == 3

    # Keyset pages across the union: two at a time, every line once, newest first.
    seen = [m.cursor for m in await every_page(log)]
    assert seen == [m.cursor for m in everything] and len(set(seen)) == 7


@pytest.mark.db
async def test_a_refused_message_opens_masked_and_the_read_is_audited(h: Harness) -> None:
    assert (await _send(h, BROKEN)).status_code == 400
    raw = stripe_event(customer_name="Grace Odhiambo") + b" " * 2000
    await h.client.post("/api/webhooks/stripe", content=raw,
                        headers=stripe_headers(raw, secret="whsec_wrong"))
    log = _log(h)
    hl7, = (await log.search(OPERATOR, MessageQuery(channel="hl7-http"))).items
    view = await log.open(OPERATOR, hl7.id)
    assert "ODHIAMBO" not in view.text and "O•••" in view.text
    assert [s.name for s in view.segments] == ["MSH", "PID", "OBX"]
    assert view.became["stored"] is False and view.became["size"] == len(BROKEN.encode())
    assert view.answer == "HTTP 400: OBX before any OBR: results must follow their order"
    assert "ODHIAMBO" in (await log.open(OPERATOR, hl7.id, reveal=True)).text

    hook, = (await log.search(OPERATOR, MessageQuery(channel="webhook"))).items
    shown = await log.open(OPERATOR, hook.id)
    assert "Odhiambo" not in shown.text and "512 characters" in shown.text
    assert shown.answer.startswith("HTTP 401: ")
    assert shown.became["size"] == len(raw) and shown.became["body_truncated"] is True
    assert shown.became["kept_bytes"] == 512
    revealed = await log.open(OPERATOR, hook.id, reveal=True)
    assert "Odhiambo" in revealed.text and len(revealed.text) == 512
    async with h.engine.connect() as conn:
        reads = (await conn.execute(
            select(AUDIT.c.purpose, AUDIT.c.resource_id, AUDIT.c.subject)
            .where(AUDIT.c.resource_type == "InboundMessage", AUDIT.c.action == "R")
            .order_by(AUDIT.c.recorded_at, AUDIT.c.id))).all()
    assert [(r.purpose == "console-reveal", r.resource_id, r.subject) for r in reads] == [
        (False, hl7.id, "operator-1"), (True, hl7.id, "operator-1"),
        (False, hook.id, "operator-1"), (True, hook.id, "operator-1")]


@dataclass
class Minutes:
    """A clock an operator's minute at a time."""

    at: datetime

    def now(self) -> datetime:
        return self.at


@pytest.mark.db
async def test_the_cap_drops_and_counts_and_the_prune_bounds(h: Harness) -> None:
    clock = Minutes(datetime(2026, 12, 1, 8, 0, 5, tzinfo=UTC))
    dropped: list[str] = []
    refusals = RefusedMessages(SqlRefusedMessages(h.engine), clock,
                               RefusalLimits(per_minute=3, retention=timedelta(days=2),
                                             max_rows=4), dropped=dropped.append)
    for n in range(5):
        await refusals.hl7("hl7-mllp", f"junk {n}".encode(), reason="no MSH", answer="AR")
    assert await _refused_rows(h) == 3 and refusals.dropped == 2
    assert dropped == ["hl7-mllp", "hl7-mllp"]
    clock.at += timedelta(minutes=1)  # a new minute: kept again; its first write prunes
    await refusals.webhook("stripe", b"x" * 100_000, reason="bad signature", answer="HTTP 401")
    assert await _refused_rows(h) == 4  # max_rows
    for _ in range(3):
        await refusals.webhook("stripe", b"x" * 100_000, reason="bad signature",
                               answer="HTTP 401")
    # The table never holds more than max_rows + per_minute rows.
    assert await _refused_rows(h) == 6 and refusals.dropped == 3
    clock.at += timedelta(days=3)  # past the retention: only the new one stays
    await refusals.hl7("hl7-http", b"junk", reason="no MSH", answer="HTTP 400")
    assert await _refused_rows(h) == 1
    async with h.engine.connect() as conn:
        kept = (await conn.execute(select(REFUSED.c.size, REFUSED.c.body))).all()
    assert [(r.size, r.body) for r in kept] == [(4, "junk")]


def test_the_header_is_read_by_a_tolerant_split() -> None:
    assert read_header(BROKEN).sender == "GARBAGE_LAB"
    assert read_header(BROKEN).control_id == "CTRL9"
    no_facility = read_header("MSH#^~\\&#APP##X#Y#1##ORU^R01#C1")
    assert (no_facility.sender, no_facility.control_id, no_facility.message_type) == (
        "APP", "C1", "ORU^R01")
    assert read_header("garbage") == read_header("MSH")
    assert read_header("\x00MSH|").sender is None


async def test_an_mllp_refusal_is_logged_with_the_ack_code(mllp_gateway: Harness) -> None:
    h = mllp_gateway
    (ack,) = await send_mllp("127.0.0.1", h.settings.mllp_port, ADT)
    assert b"MSA|AR|CTRL8" in ack
    refused, = (await _log(h).search(OPERATOR, MessageQuery(channel="hl7-mllp"))).items
    assert (refused.status, refused.control_id, refused.summary) == ("refused", "CTRL8",
                                                                    "ADT^A01")
    view = await _log(h).open(OPERATOR, refused.id)
    assert view.answer == "AR: only ORU^R01 is accepted, not ADT^A01"


async def test_a_whatsapp_delivery_with_a_bad_signature_is_logged(tmp_path: Path,
                                                                  sqlite_url: str) -> None:
    async with whatsapp_world(tmp_path, sqlite_url) as world:
        raw, headers = world.graph.signed(world.graph.inbound_text(KE_PHONE, "hello"),
                                          secret="not-the-app-secret")
        forged = await world.gateway.client.post(world.webhook_url, content=raw,
                                                 headers=headers)
        assert forged.status_code == 401
        refused, = (await _log(world.gateway).search(
            OPERATOR, MessageQuery(channel="webhook:whatsapp"))).items
        assert refused.status == "refused" and refused.error == forged.json()["error"]["message"]
