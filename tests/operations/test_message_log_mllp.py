"""A message sent over MLLP is logged as hl7-mllp, and opens to the ACKs the sender got,
rebuilt by the listener's own rules (enhanced mode: the commit ACK only, as MSH-15/16 ask)."""

from __future__ import annotations

from adapters.hl7v2.mllp import send_mllp
from resolvers.operations.messages.log import MessageLog, MessageQuery
from tests.api.test_lab_ingest import WORKED_EXAMPLE
from tests.operations.test_message_log import OPERATOR
from tests.support import Harness


async def test_mllp_message_and_its_ack(mllp_gateway: Harness) -> None:
    h = mllp_gateway
    (sent,) = await send_mllp("127.0.0.1", h.settings.mllp_port, WORKED_EXAMPLE)
    assert b"MSA|CA|LAB000123" in sent
    original = WORKED_EXAMPLE.replace("|P|2.5|||AL|NE", "|P|2.5").replace("LAB000123", "LAB2")
    (sent,) = await send_mllp("127.0.0.1", h.settings.mllp_port, original)
    assert b"MSA|AA|LAB2" in sent
    log: MessageLog = h.app.state.services.message_log
    page = await log.search(OPERATOR, MessageQuery(channel="hl7-mllp"))
    assert [m.control_id for m in page.items] == ["LAB2", "LAB000123"]
    enhanced = await log.open(OPERATOR, page.items[1].id)
    assert "MSA|CA|LAB000123" in enhanced.answer and "MSA|AA" not in enhanced.answer
    assert "ACK^R01^ACK" in enhanced.answer and "|CENTRAL_LAB|" in enhanced.answer
    assert "MSA|AA|LAB2" in (await log.open(OPERATOR, page.items[0].id)).answer
