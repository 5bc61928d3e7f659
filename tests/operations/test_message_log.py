"""The message log and the traffic overview, through the use cases, on SQLite and PostgreSQL:
messages sent through the real routes (REST, GraphQL), a refused reuse of a control id, a
webhook event; search filters, keyset pages, masking, an audited reveal, role refusals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from adapters.db.tables import AuditEventRow
from adapters.db.tables_webhooks import WebhookEventRow
from resolvers.errors import Forbidden, NotFound
from resolvers.operations.messages.log import MessageLog, MessageQuery
from resolvers.operations.messages.records import MessageCursor
from resolvers.operations.traffic.records import Window
from resolvers.operations.traffic.stats import TrafficStats
from resolvers.principal import Caller, Principal
from tests.support import Harness

MESSAGE = ("MSH|^~\\&|LAB_SYSTEM|{facility}|CARI|CARI|20260415120000||ORU^R01|{control}|P|2.5\r"
           "PID|1||PAT{n}^^^FACILITY^MR||ODHIAMBO^GRACE||19900315|F\r"
           "OBR|1||ORD{n}|CBC^Complete Blood Count\r"
           "OBX|1|NM|WBC^White Blood Cell Count||{value}|10*3/uL|4.5-11.0|N")
GQL = """mutation($m: String!) { ingestHl7(message: $m) { __typename
  ... on IngestResult { labResultId } } }"""
OPERATOR = Caller(Principal("operator-1", frozenset({"integrator"})), surface="console")


def message(n: int, *, facility: str = "FACILITY", value: str = "7.5") -> str:
    return MESSAGE.format(facility=facility, control=f"MSG{n:03d}", n=n, value=value)


async def _send(h: Harness, text: str) -> Any:
    return await h.client.post("/api/lab/hl7-ingest", content=text.encode(),
                               headers={**h.auth("lab"), "Content-Type": "text/plain"})


async def _traffic(h: Harness) -> dict[str, Any]:
    """Three REST messages (one from another lab), one by GraphQL, one refused, one webhook."""
    ids = {}
    for n, facility in ((1, "FACILITY"), (2, "FACILITY"), (3, "OTHER_LAB")):
        answer = await _send(h, message(n, facility=facility))
        assert answer.status_code == 200, answer.text
        ids[n] = answer.json()["data"]["lab_result_id"]
    refused = await _send(h, message(1, value="9.9"))
    assert refused.status_code == 409
    ids["refused"] = refused.json()["error"]["details"]["conflict_id"]
    by_graphql = await h.gql(GQL, {"m": message(4)}, roles=("lab",))
    ids[4] = by_graphql["data"]["ingestHl7"]["labResultId"]
    now = datetime.now(UTC)
    ids["webhook"] = str(uuid.uuid4())
    async with h.engine.begin() as conn:
        await conn.execute(insert(WebhookEventRow.__table__), [{  # type: ignore[attr-defined]
            "id": ids["webhook"], "provider": "stripe", "event_id": "evt_1",
            "event_type": "payment_intent.succeeded", "subject_id": None,
            "payload": {"customer_name": "Grace Odhiambo", "amount": 500,
                        "text": {"body": "my results please"}},
            "status": "processed", "attempts": 1, "last_error": None,
            "received_at": now, "processed_at": now + timedelta(milliseconds=40)}])
    return ids


async def every_page(log: MessageLog, limit: int = 2) -> list[Any]:
    """Every line of the log, walked page by page with its keyset cursors."""
    seen: list[Any] = []
    cursor: MessageCursor | None = None
    while True:
        page = await log.search(OPERATOR, MessageQuery(limit=limit, after=cursor))
        seen += page.items
        if page.next_cursor is None:
            return seen
        cursor = MessageCursor.decode(page.next_cursor)


def _log(h: Harness) -> MessageLog:
    log: MessageLog = h.app.state.services.message_log
    return log


@pytest.mark.db
async def test_search_filters_and_keyset_pages(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    ids = await _traffic(h)
    log = _log(h)
    everything = await log.search(OPERATOR, MessageQuery())
    assert len(everything.items) == 6 and everything.next_cursor is None
    assert [(m.received_at, m.id) for m in everything.items] == sorted(
        [(m.received_at, m.id) for m in everything.items], reverse=True)
    assert {m.channel for m in everything.items} == {
        "hl7-http", "hl7-graphql", "hl7-refused", "webhook:stripe"}

    assert [m.id for m in await every_page(log)] == [m.id for m in everything.items]

    async def ids_of(**kw: Any) -> set[str]:
        return {m.id for m in (await log.search(OPERATOR, MessageQuery(**kw))).items}

    assert await ids_of(channel="hl7-graphql") == {ids[4]}
    assert await ids_of(channel="hl7") == {ids[1], ids[2], ids[3], ids[4], ids["refused"]}
    assert await ids_of(channel="hl7-refused") == {ids["refused"]}
    assert await ids_of(status="refused") == {ids["refused"]}
    assert await ids_of(channel="webhook") == {ids["webhook"]}
    assert await ids_of(channel="webhook:stripe", status="processed") == {ids["webhook"]}
    assert await ids_of(channel="webhook:mpesa") == set()
    assert await ids_of(sender="OTHER_LAB") == {ids[3]}
    assert await ids_of(control_id="MSG001") == {ids[1], ids["refused"]}
    assert await ids_of(control_id="evt_1") == {ids["webhook"]}
    assert await ids_of(since=datetime.now(UTC) + timedelta(minutes=1)) == set()
    assert await ids_of(until=datetime.now(UTC) - timedelta(days=1)) == set()


@pytest.mark.db
async def test_open_masks_then_reveal_is_audited(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    ids = await _traffic(h)
    log = _log(h)
    masked = await log.open(OPERATOR, ids[1])
    assert "ODHIAMBO" not in masked.text and "PAT1" not in masked.text
    pid5 = next(f for s in masked.segments if s.name == "PID" for f in s.fields
                if f.position == "PID-5")
    assert pid5.masked and pid5.value == "O•••"
    obx5 = next(f for s in masked.segments if s.name == "OBX" for f in s.fields
                if f.position == "OBX-5")
    assert obx5.value == "7.5" and not obx5.masked
    msh10 = next(f for s in masked.segments if s.name == "MSH" for f in s.fields
                 if f.position == "MSH-10")
    assert msh10.value == "MSG001"
    assert masked.became["lab_result_id"] == ids[1]
    assert masked.became["observations_created"] == 1
    assert masked.answer == "HTTP 200: stored"

    shown = await log.open(OPERATOR, ids[1], reveal=True)
    assert "ODHIAMBO^GRACE" in shown.text and shown.revealed
    async with h.engine.connect() as conn:
        rows = (await conn.execute(select(AuditEventRow.__table__).where(  # type: ignore[attr-defined]
            AuditEventRow.__table__.c.resource_type == "InboundMessage"))).mappings().all()  # type: ignore[attr-defined]
    reveals = [r for r in rows if r["purpose"] == "console-reveal"]
    assert len(reveals) == 1 and reveals[0]["subject"] == "operator-1"
    assert reveals[0]["resource_id"] == ids[1]
    assert reveals[0]["patient_id"] == shown.patient_id is not None
    assert len([r for r in rows if r["purpose"] == ""]) == 1  # the masked open

    refused = await log.open(OPERATOR, ids["refused"])
    assert refused.became["stored"] is False
    assert refused.became["first_lab_result_id"] == ids[1]
    assert refused.answer.startswith("HTTP 409")

    hook = await log.open(OPERATOR, ids["webhook"])
    assert "Grace Odhiambo" not in hook.text and '"amount": 500' in hook.text
    assert "my results" not in hook.text
    assert "Grace Odhiambo" in (await log.open(OPERATOR, ids["webhook"], reveal=True)).text
    with pytest.raises(NotFound):
        await log.open(OPERATOR, "no-such-message")


@pytest.mark.db
async def test_other_roles_are_refused_and_the_refusal_recorded(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    ids = await _traffic(h)
    clinician = Caller(Principal("dr-1", frozenset({"clinician"})), surface="console")
    with pytest.raises(Forbidden):
        await _log(h).open(clinician, ids[1])
    with pytest.raises(Forbidden):
        await _log(h).search(clinician, MessageQuery())
    with pytest.raises(Forbidden):
        await h.app.state.services.traffic.overview(clinician, Window.HOUR)
    async with h.engine.connect() as conn:
        denied = (await conn.execute(select(AuditEventRow.__table__).where(  # type: ignore[attr-defined]
            AuditEventRow.__table__.c.subject == "dr-1"))).mappings().all()  # type: ignore[attr-defined]
    assert {(r["outcome"], r["resource_id"]) for r in denied} == {
        ("denied", ids[1]), ("denied", None)}


@pytest.mark.db
async def test_traffic_per_channel(gateway_any_db: Harness) -> None:
    h = gateway_any_db
    await _traffic(h)
    traffic: TrafficStats = h.app.state.services.traffic
    for window in Window:
        overview = await traffic.overview(OPERATOR, window)
        channels = {c.channel: c for c in overview.channels}
        assert channels["hl7-http"].total == 3 and channels["hl7-http"].errors == 0
        assert channels["hl7-graphql"].total == 1
        assert channels["hl7-refused"].error_rate == 1.0
        hook = channels["webhook:stripe"]
        assert hook.total == 1 and hook.latency_ms is not None
        assert 30 <= hook.latency_ms <= 50
        assert channels["hl7-http"].latency_ms is None
        assert sum(channels["hl7-http"].counts) == 3
        assert len(overview.starts) == len(channels["hl7-http"].counts)
        assert overview.starts == sorted(overview.starts)
        assert "fhir" in channels  # from the audit trail: the ingests' Patient records count
    hour = await traffic.overview(OPERATOR, Window.HOUR)
    assert len(hour.starts) == 60 and hour.bucket_seconds == 60
    assert hour.channels[0].family == "hl7"
