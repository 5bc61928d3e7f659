"""The local Daraja sandbox (``cari-gateway mpesa-sandbox``, adapters/demo/mpesa_sandbox.py):
Daraja's shapes at its HTTP surface, and the gateway's own M-Pesa adapter driven against it
(token, STK push, query, and the callback it posts parsed by the adapter's parser)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.demo.mpesa_sandbox import EAT, DarajaSandbox, SandboxCredentials
from adapters.payments.mpesa.client import MpesaProvider
from adapters.settings.payments import MpesaConfig
from resolvers.payments.providers import CollectionRequest

CREDS = SandboxCredentials("demo-key", "demo-secret", "174379", "demo-passkey")
CALLBACK_URL = "http://gateway.test/api/payments/webhooks/mpesa/tok123"


@dataclass
class Receiver:
    """Stands in for the gateway's callback route: records what the sandbox posts."""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def receive(self, request: Request) -> Response:
        self.bodies.append(await request.json())
        self.arrived.set()
        return Response(status_code=200)

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.bodies) < count:
                self.arrived.clear()
                await self.arrived.wait()


@dataclass
class Running:
    sandbox: DarajaSandbox
    client: httpx.AsyncClient
    receiver: Receiver


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    receiver = Receiver()
    sink = Starlette(routes=[Route("/api/payments/webhooks/mpesa/{token}", receiver.receive,
                                   methods=["POST"])])
    sandbox = DarajaSandbox(CREDS, callback_delay=0.05,
                            callback_transport=httpx.ASGITransport(app=sink))
    app = sandbox.app()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://sandbox.test") as client:
            yield Running(sandbox, client, receiver)


def basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def stk_body(amount: int = 500, phone: str = "254711000111", passkey: str = "demo-passkey",
             stamp: str | None = None) -> dict[str, Any]:
    stamp = stamp or datetime.now(UTC).astimezone(EAT).strftime("%Y%m%d%H%M%S")
    password = base64.b64encode(f"174379{passkey}{stamp}".encode()).decode()
    return {"BusinessShortCode": "174379", "Password": password, "Timestamp": stamp,
            "TransactionType": "CustomerPayBillOnline", "Amount": amount, "PartyA": phone,
            "PartyB": "174379", "PhoneNumber": phone, "CallBackURL": CALLBACK_URL,
            "AccountReference": "CONSULT4821", "TransactionDesc": "Teleconsult"}


async def bearer(client: httpx.AsyncClient) -> dict[str, str]:
    answer = await client.get("/oauth/v1/generate", params={"grant_type": "client_credentials"},
                              headers={"Authorization": basic("demo-key", "demo-secret")})
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_token_checks_the_consumer_credentials(running: Running) -> None:
    client = running.client
    wrong = await client.get("/oauth/v1/generate", params={"grant_type": "client_credentials"},
                             headers={"Authorization": basic("demo-key", "nope")})
    assert wrong.status_code == 400 and wrong.json()["errorCode"] == "400.008.01"
    grant = await client.get("/oauth/v1/generate", params={"grant_type": "password"},
                             headers={"Authorization": basic("demo-key", "demo-secret")})
    assert grant.status_code == 400 and grant.json()["errorCode"] == "400.008.02"
    ok = await client.get("/oauth/v1/generate", params={"grant_type": "client_credentials"},
                          headers={"Authorization": basic("demo-key", "demo-secret")})
    assert ok.status_code == 200
    assert ok.json()["expires_in"] == "3599" and ok.json()["access_token"]  # a string, as Daraja


async def test_stk_push_refusals(running: Running) -> None:
    client = running.client
    no_token = await client.post("/mpesa/stkpush/v1/processrequest", json=stk_body(),
                                 headers={"Authorization": "Bearer made-up"})
    assert no_token.status_code == 404 and no_token.json()["errorCode"] == "404.001.03"
    auth = await bearer(client)
    wrong_pass = await client.post("/mpesa/stkpush/v1/processrequest",
                                   json=stk_body(passkey="other"), headers=auth)
    assert wrong_pass.status_code == 500 and wrong_pass.json()["errorMessage"] == "Wrong credentials"
    for bad, field_name in ((stk_body(amount=0), "Amount"), (stk_body(phone="0711000111"),
                                                              "PhoneNumber")):
        answer = await client.post("/mpesa/stkpush/v1/processrequest", json=bad, headers=auth)
        assert answer.status_code == 400, answer.text
        assert answer.json()["errorMessage"] == f"Bad Request - Invalid {field_name}"
    assert running.sandbox.pushes == {}


async def test_push_query_and_callbacks(running: Running) -> None:
    client, receiver = running.client, running.receiver
    auth = await bearer(client)
    acks = []
    for i in range(5):  # the 5th push is cancelled by the "customer"
        answer = await client.post("/mpesa/stkpush/v1/processrequest",
                                   json=stk_body(amount=100 + i), headers=auth)
        assert answer.status_code == 200, answer.text
        acks.append(answer.json())
    first = acks[0]
    assert first["ResponseCode"] == "0" and first["MerchantRequestID"]
    assert first["CheckoutRequestID"].startswith("ws_CO_")
    assert first["CustomerMessage"] == "Success. Request accepted for processing"
    assert len({a["CheckoutRequestID"] for a in acks}) == 5
    stamp = datetime.now(UTC).astimezone(EAT).strftime("%Y%m%d%H%M%S")
    query = {**{k: stk_body(stamp=stamp)[k] for k in ("BusinessShortCode", "Password",
                                                       "Timestamp")},
             "CheckoutRequestID": first["CheckoutRequestID"]}
    pending = await client.post("/mpesa/stkpushquery/v1/query", json=query, headers=auth)
    assert pending.status_code == 500 and pending.json()["errorCode"] == "500.001.1001"
    assert pending.json()["errorMessage"] == "The transaction is being processed"

    await receiver.wait_for(5)
    by_id = {b["Body"]["stkCallback"]["CheckoutRequestID"]: b["Body"]["stkCallback"]
             for b in receiver.bodies}
    success = by_id[first["CheckoutRequestID"]]
    assert success["ResultCode"] == 0 and success["MerchantRequestID"] == first["MerchantRequestID"]
    items = {i["Name"]: i.get("Value") for i in success["CallbackMetadata"]["Item"]}
    assert items["Amount"] == 100 and items["PhoneNumber"] == 254711000111
    assert isinstance(items["MpesaReceiptNumber"], str) and len(str(items["TransactionDate"])) == 14
    cancelled = by_id[acks[4]["CheckoutRequestID"]]
    assert cancelled["ResultCode"] == 1032 and "CallbackMetadata" not in cancelled
    assert cancelled["ResultDesc"] == "Request cancelled by user"

    done = await client.post("/mpesa/stkpushquery/v1/query", json=query, headers=auth)
    assert done.status_code == 200 and done.json()["ResultCode"] == "0"  # a string here
    unknown = await client.post("/mpesa/stkpushquery/v1/query",
                                json={**query, "CheckoutRequestID": "ws_CO_nope"}, headers=auth)
    assert unknown.status_code == 400


async def test_the_gateways_mpesa_adapter_works_against_it(running: Running) -> None:
    """The product's own Daraja client and callback parser agree with the sandbox."""
    config = MpesaConfig(base_url="http://sandbox.test", consumer_key="demo-key",
                         consumer_secret="demo-secret", shortcode="174379",
                         passkey="demo-passkey")
    provider = MpesaProvider(running.client, config)
    requests = [CollectionRequest(payment_id=f"p{i}", attempt_key=f"a{i}", amount_minor=50_000,
                                  currency="KES", phone_e164="+254711000111",
                                  reference=f"INV-{i}", description="Consultation",
                                  callback_url=CALLBACK_URL) for i in range(5)]
    acks = [await provider.initiate_collection(r) for r in requests]
    assert (await provider.query_collection(acks[0].provider_reference, requests[0])).state \
        == "pending"
    await running.receiver.wait_for(5)
    notices = [provider.parse_callback(httpx.Request("POST", "/", json=b).read())
               for b in running.receiver.bodies]
    states = {n.provider_reference: n.claimed_state for n in notices}
    assert sorted(states.values()) == ["cancelled"] + ["succeeded"] * 4
    paid = next(n for n in notices if n.claimed_state == "succeeded")
    assert paid.claimed_amount_minor == 50_000 and paid.claimed_payer_e164 == "+254711000111"
    assert paid.provider_transaction_id
    for ack, request in zip(acks, requests, strict=True):  # the query confirms each callback
        status = await provider.query_collection(ack.provider_reference, request)
        assert status.state == states[ack.provider_reference]
