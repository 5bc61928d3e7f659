"""A laboratory that reuses MSH-10: an identical resend is a repeat; different content under a
known control id is refused (409 / AE 205) and kept for an operator, never silently dropped."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.hl7v2.mllp import send_mllp
from tests.api.test_lab_documented import DOCUMENTED
from tests.support import Harness

REUSED = DOCUMENTED.replace("||7.5|", "||9.9|")  # same MSH-10, another result


async def _ingest(h: Harness, message: str) -> Any:
    return await h.client.post("/api/lab/hl7-ingest", content=message.encode(),
                               headers={**h.auth("lab"), "Content-Type": "text/plain"})


@pytest.mark.db
async def test_different_content_under_a_known_control_id_is_refused_and_kept(
    gateway_any_db: Harness,
) -> None:
    h = gateway_any_db
    first = await _ingest(h, DOCUMENTED)
    assert first.status_code == 200
    again = await _ingest(h, REUSED)
    assert again.status_code == 409, again.text
    error = again.json()["error"]
    assert error["code"] == "control_id_reused" and "MSG001" in error["message"]
    assert error["details"]["first_lab_result_id"] == first.json()["data"]["lab_result_id"]
    kept = await h.client.get("/api/lab/message-conflicts", headers=h.auth("integrator"))
    assert kept.status_code == 200
    (item,) = kept.json()["data"]["items"]
    assert item["control_id"] == "MSG001" and "9.9" in item["raw_message"]
    assert item["id"] == error["details"]["conflict_id"]
    denied = await h.client.get("/api/lab/message-conflicts", headers=h.auth("lab"))
    assert denied.status_code == 403
    # Nothing of the refused message was stored.
    pid = first.json()["data"]["patient_id"]
    results = await h.client.get(f"/api/patients/{pid}/lab-results",
                                 headers=h.auth("clinician"))
    assert [i["numeric_value"] for i in results.json()["data"]["items"]] == [7.5]


async def test_an_identical_resend_is_a_repeat_even_with_a_new_message_time(
    gateway: Harness,
) -> None:
    first = (await _ingest(gateway, DOCUMENTED)).json()["data"]
    restamped = DOCUMENTED.replace("20260415120000", "20260415121500").replace("\n", "\r\n")
    again = await _ingest(gateway, restamped)
    assert again.status_code == 200 and again.json()["data"]["lab_result_id"] == (
        first["lab_result_id"])


async def test_graphql_answers_a_conflict_error(gateway: Harness) -> None:
    await _ingest(gateway, DOCUMENTED)
    body = await gateway.gql("mutation($m: String!) { ingestHl7(message: $m) { __typename "
                             "... on ConflictError { code message } } }", {"m": REUSED},
                             roles=("lab",))
    assert body["data"]["ingestHl7"] == {"__typename": "ConflictError",
                                         "code": "control_id_reused",
                                         "message": body["data"]["ingestHl7"]["message"]}


async def test_mllp_answers_ae_205_so_the_laboratory_knows(mllp_gateway: Harness) -> None:
    h = mllp_gateway
    (ack,) = await send_mllp("127.0.0.1", h.settings.mllp_port, DOCUMENTED)
    assert b"MSA|AA|MSG001" in ack
    (ack,) = await send_mllp("127.0.0.1", h.settings.mllp_port, REUSED)
    assert b"MSA|AE|MSG001" in ack
    assert b"|MSH^1^10|205^Duplicate key identifier^HL70357|E" in ack
