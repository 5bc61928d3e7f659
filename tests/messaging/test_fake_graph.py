"""The fake Graph API behaves as providers.md section 7 says the real one does."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest

from tests.messaging.fake_graph import (
    ACCESS_TOKEN,
    APP_SECRET,
    PHONE_NUMBER_ID,
    WABA_ID,
    FakeGraph,
    serving_graph,
)

PHONE = "254711000111"


def template_body(name: str = "appointment_reminder", language: str = "en_US",
                  params: tuple[str, ...] = ("Amina", "10:30")) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": PHONE,
            "type": "template", "biz_opaque_callback_data": "apt_881",
            "template": {"name": name, "language": {"code": language}, "components": [
                {"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}]}}


async def send(fake: FakeGraph, body: dict[str, Any],
               token: str = ACCESS_TOKEN) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5.0) as client:
        return await client.post(f"{fake.base_url}/v21.0/{PHONE_NUMBER_ID}/messages",
                                 json=body, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def graph() -> Any:
    async with serving_graph() as fake:
        fake.add_template("appointment_reminder", "en_US",
                          "Hello {{1}}, your appointment is at {{2}}.", buttons=("Confirm",))
        yield fake


async def test_template_send_answers_the_documented_shape(graph: FakeGraph) -> None:
    response = await send(graph, template_body())
    assert response.status_code == 200
    body = response.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": PHONE, "wa_id": PHONE}]
    assert body["messages"][0]["id"].startswith("wamid.")
    assert body["messages"][0]["message_status"] == "accepted"
    assert [a.wamid for a in graph.accepted] == [body["messages"][0]["id"]]


@pytest.mark.parametrize(("params", "language", "code"), [
    (("Amina",), "en_US", 132000), (("Amina", "10:30", "x"), "en_US", 132000),
    (("Amina", "10:30"), "fr", 132001)])
async def test_template_mismatches_are_refused(graph: FakeGraph, params: tuple[str, ...],
                                               language: str, code: int) -> None:
    response = await send(graph, template_body(params=params, language=language))
    assert response.status_code in (400, 404)
    assert response.json()["error"]["code"] == code
    assert graph.accepted == []


async def test_unapproved_template_is_refused(graph: FakeGraph) -> None:
    graph.set_status("appointment_reminder", "en_US", "PAUSED")
    response = await send(graph, template_body())
    assert response.status_code == 400 and graph.accepted == []


async def test_token_expiry_is_190_with_401(graph: FakeGraph) -> None:
    graph.expire_token()
    response = await send(graph, template_body())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 190
    graph.renew_token("new-token")
    assert (await send(graph, template_body(), token="new-token")).status_code == 200


async def test_free_form_needs_the_window(graph: FakeGraph) -> None:
    text = {"messaging_product": "whatsapp", "to": PHONE, "type": "text",
            "text": {"body": "hello"}}
    refused = await send(graph, text)
    assert refused.json()["error"]["code"] == 131047
    graph.open_window(PHONE)
    assert (await send(graph, text)).status_code == 200


async def test_undeliverable_pair_rate_and_throughput(graph: FakeGraph) -> None:
    graph.mark_undeliverable("+254 711 000 222")
    other = template_body() | {"to": "254711000222"}
    assert (await send(graph, other)).json()["error"]["code"] == 131026
    now = [1000.0]
    graph.clock = lambda: now[0]
    for _ in range(graph.pair_burst):
        assert (await send(graph, template_body())).status_code == 200
    assert (await send(graph, template_body())).json()["error"]["code"] == 131056
    now[0] += graph.pair_interval * graph.pair_burst
    assert (await send(graph, template_body())).status_code == 200
    graph.throughput = 1
    third = template_body() | {"to": "254711000333"}
    assert (await send(graph, third)).json()["error"]["code"] == 130429


async def test_faults_slow_and_dropped_connections(graph: FakeGraph) -> None:
    graph.fail(503)
    failed = await send(graph, template_body())
    assert failed.status_code == 503 and "error" in failed.json()
    graph.drop(after=True)
    with pytest.raises(httpx.HTTPError):
        await send(graph, template_body())
    assert len(graph.accepted) == 1  # sent, answer lost
    graph.slow(1.0)
    with pytest.raises(httpx.ReadTimeout):
        async with httpx.AsyncClient(timeout=0.2) as client:
            await client.post(f"{graph.base_url}/v21.0/{PHONE_NUMBER_ID}/messages",
                              json=template_body(),
                              headers={"Authorization": f"Bearer {ACCESS_TOKEN}"})


async def test_template_list_is_paged(graph: FakeGraph) -> None:
    graph.add_template("lab_result_ready", "sw", "Matokeo yako yako tayari.")
    graph.add_template("refill", "fr", "Bonjour {{1}}", status="PENDING")
    seen: list[dict[str, Any]] = []
    url: str | None = f"{graph.base_url}/v21.0/{WABA_ID}/message_templates?limit=2"
    async with httpx.AsyncClient(timeout=5.0) as client:
        while url:
            page = (await client.get(url, headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}
                                     )).json()
            seen.extend(page["data"])
            url = page["paging"].get("next")
    assert [(t["name"], t["language"], t["status"]) for t in seen] == [
        ("appointment_reminder", "en_US", "APPROVED"), ("lab_result_ready", "sw", "APPROVED"),
        ("refill", "fr", "PENDING")]
    assert seen[0]["components"][0] == {"type": "BODY",
                                        "text": "Hello {{1}}, your appointment is at {{2}}."}


def test_webhook_payloads_are_in_metas_envelope_and_signed() -> None:
    fake = FakeGraph()
    payload = fake.merge(fake.inbound_text(PHONE, "ARRÊT"),
                         fake.button_reply(PHONE, "appointment:1:confirm", "Confirm"),
                         fake.status("wamid.X", "failed", recipient=PHONE))
    raw, headers = fake.signed(payload)
    assert b"\\u00ca" in raw  # escaped unicode, as Meta sends it
    expected = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == f"sha256={expected}"
    body = json.loads(raw)
    assert body["object"] == "whatsapp_business_account"
    changes = body["entry"][0]["changes"]
    assert [c["field"] for c in changes] == ["messages"] * 3
    assert changes[0]["value"]["messages"][0]["text"] == {"body": "ARRÊT"}
    assert changes[1]["value"]["messages"][0]["button"]["payload"] == "appointment:1:confirm"
    status = changes[2]["value"]["statuses"][0]
    assert status["errors"][0]["code"] == 131026
    assert changes[0]["value"]["metadata"]["phone_number_id"] == PHONE_NUMBER_ID
