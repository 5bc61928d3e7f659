"""Orange Money Web Payment adapter against the fake Orange over real HTTP."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from adapters.payments.orange_money.client import OrangeConfig, OrangeMoneyProvider
from resolvers.payments.providers import (
    CollectionRequest,
    PayoutRequest,
    ProviderRejected,
    ProviderUnavailable,
)
from tests.payments.fakes.base import CallbackSink
from tests.payments.fakes.orange import TOKEN, FakeOrange, OrangeScenario
from tests.receiver import wait_for

WEBPAY = "/orange-money-webpay/dev/v1/webpayment"
STATUS = "/orange-money-webpay/dev/v1/transactionstatus"
# reference/providers.md §3a, composed example notification (exact body).
NOTIFICATION = (b'{"status":"SUCCESS","notif_token":"dd497bda3b250e536186fc0663f32f40",'
                b'"txnid":"MP260301.1012.A12345"}')


def config(fake: FakeOrange, **overrides: object) -> OrangeConfig:
    values: dict[str, object] = dict(
        client_id=fake.client_id, client_secret=fake.client_secret,
        merchant_key=fake.merchant_key, return_url="https://app.example.org/pay/done",
        cancel_url="https://app.example.org/pay/cancel", api_base=fake.base_url, country="dev",
        merchant_label="Clinique Exemple", timeout_seconds=2.0)
    values.update(overrides)
    return OrangeConfig(**values)  # type: ignore[arg-type]


def collection(sink: CallbackSink, amount_minor: int = 2500, currency: str = "OUV",
               key: str | None = None) -> CollectionRequest:
    key = key or str(uuid.uuid4())
    return CollectionRequest(payment_id="pay-1", attempt_key=key, amount_minor=amount_minor,
                             currency=currency, phone_e164=None, reference="LAB-42",
                             description="Lab", callback_url=f"{sink.url}/cb/orange/{key}")


async def test_init_status_and_notification(fake_orange: FakeOrange, provider_http: httpx.AsyncClient,
                                            fake_callback_sink: CallbackSink) -> None:
    fake_orange.scenarios.next(OrangeScenario(initiated_queries=1, pending_queries=1))
    provider = OrangeMoneyProvider(provider_http, config(fake_orange))
    request = collection(fake_callback_sink)
    ack = await provider.initiate_collection(request)
    assert ack.redirect_url and ack.provider_reference in ack.redirect_url
    assert ack.extra["order_id"] == request.attempt_key and ack.extra["notif_token"]
    sent = fake_orange.calls(WEBPAY)[0].json
    assert sent["order_id"] == request.attempt_key and sent["amount"] == 2500
    assert sent["notif_url"] == request.callback_url and sent["currency"] == "OUV"
    states = [(await provider.query_collection(ack.provider_reference, request)).state
              for _ in range(3)]
    assert states == ["pending", "pending", "succeeded"]
    await fake_orange.settle()
    notice = provider.parse_callback(fake_callback_sink.received[0].body)
    assert notice.claimed_state == "succeeded" and notice.notif_token == ack.extra["notif_token"]
    assert notice.provider_transaction_id


async def test_token_accept_header_cache_and_code_42(fake_orange: FakeOrange,
                                                     provider_http: httpx.AsyncClient,
                                                     fake_callback_sink: CallbackSink) -> None:
    plain = await provider_http.post(fake_orange.base_url + TOKEN,
                                     data={"grant_type": "client_credentials"})
    assert plain.status_code == 406  # Orange needs Accept: application/json
    provider = OrangeMoneyProvider(provider_http, config(fake_orange))
    await asyncio.gather(*(provider.initiate_collection(collection(fake_callback_sink))
                           for _ in range(4)))
    assert fake_orange.tokens_issued == 1
    fake_orange.expire_tokens()  # 401 code 42: fetch a new token and retry once
    await provider.initiate_collection(collection(fake_callback_sink))
    assert fake_orange.tokens_issued == 2
    bad = OrangeMoneyProvider(provider_http, config(fake_orange, client_secret="wrong"))
    with pytest.raises(ProviderUnavailable) as auth:
        await bad.initiate_collection(collection(fake_callback_sink))
    assert auth.value.request_sent is False and " 41 " in str(auth.value)


@pytest.mark.parametrize(("final", "state"), [("FAILED", "failed"), ("EXPIRED", "expired")])
async def test_final_states(fake_orange: FakeOrange, provider_http: httpx.AsyncClient,
                            fake_callback_sink: CallbackSink, final: str, state: str) -> None:
    fake_orange.scenarios.next(OrangeScenario(final_status=final, notify=False))
    provider = OrangeMoneyProvider(provider_http, config(fake_orange))
    request = collection(fake_callback_sink)
    ack = await provider.initiate_collection(request)
    status = await provider.query_collection(ack.provider_reference, request)
    assert status.state == state and status.reason == final
    await fake_orange.settle()
    assert fake_callback_sink.received == []


async def test_duplicated_forged_and_lying_notifications(
        fake_orange: FakeOrange, provider_http: httpx.AsyncClient,
        fake_callback_sink: CallbackSink) -> None:
    fake_orange.scenarios.next(OrangeScenario(final_status="FAILED", notify_status="SUCCESS",
                                              notify_copies=5, notify_concurrent=True,
                                              notify_delay=0.1))
    fake_orange.scenarios.next(OrangeScenario(forged_notif_token=True))
    provider = OrangeMoneyProvider(provider_http, config(fake_orange))
    lying = collection(fake_callback_sink)
    ack = await provider.initiate_collection(lying)
    forged = await provider.initiate_collection(collection(fake_callback_sink))
    await wait_for(lambda: len(fake_callback_sink.received) == 6)
    lies = [provider.parse_callback(r.body) for r in fake_callback_sink.at(f"/cb/orange/{lying.attempt_key}")]
    assert len(lies) == 5 and len({n.event_id for n in lies}) == 1
    assert {n.claimed_state for n in lies} == {"succeeded"}
    assert (await provider.query_collection(ack.provider_reference, lying)).state == "failed"
    other = [r for r in fake_callback_sink.received if r.path != f"/cb/orange/{lying.attempt_key}"]
    assert provider.parse_callback(other[0].body).notif_token != forged.extra["notif_token"]


async def test_errors_are_normalised(fake_orange: FakeOrange, provider_http: httpx.AsyncClient,
                                     fake_callback_sink: CallbackSink) -> None:
    provider = OrangeMoneyProvider(provider_http, config(fake_orange, timeout_seconds=0.3))
    with pytest.raises(ProviderRejected) as currency:
        await provider.initiate_collection(collection(fake_callback_sink, currency="XOF"))
    assert currency.value.code == "invalid_currency" and fake_orange.requests == []
    request = collection(fake_callback_sink)
    ack = await provider.initiate_collection(request)
    with pytest.raises(ProviderRejected):  # order_id must be unique
        await provider.initiate_collection(request)
    for status in (429, 500, 503):
        fake_orange.fail(WEBPAY, status)
        with pytest.raises(ProviderUnavailable) as unavailable:
            await provider.initiate_collection(collection(fake_callback_sink))
        assert unavailable.value.request_sent is True
    fake_orange.fail(WEBPAY, 400)
    with pytest.raises(ProviderRejected) as bad:
        await provider.initiate_collection(collection(fake_callback_sink))
    assert bad.value.code == "21"
    fake_orange.slow(STATUS, 1.0)
    with pytest.raises(ProviderUnavailable) as slow:
        await provider.query_collection(ack.provider_reference, request)
    assert slow.value.request_sent is True
    with pytest.raises(ProviderRejected) as missing:
        await provider.query_collection("no-such-token", request)
    assert missing.value.code == "not_found"


async def test_payouts_unsupported(provider_http: httpx.AsyncClient) -> None:
    provider = OrangeMoneyProvider(provider_http, OrangeConfig("i", "s", "m", "https://a", "https://b"))
    request = PayoutRequest("po", "k", 100, "OUV", "+2250701234567", "r", "d", "u", "t")
    with pytest.raises(ProviderRejected) as info:
        await provider.initiate_payout(request)
    assert info.value.code == "unsupported"
    assert provider.currencies == frozenset({"OUV"})


def test_parse_composed_notification_and_malformed() -> None:
    provider = OrangeMoneyProvider(httpx.AsyncClient(), OrangeConfig("i", "s", "m", "https://a",
                                                                     "https://b", country="ci"))
    notice = provider.parse_callback(NOTIFICATION)
    assert notice.claimed_state == "succeeded"
    assert notice.notif_token == "dd497bda3b250e536186fc0663f32f40"
    assert notice.provider_transaction_id == "MP260301.1012.A12345"
    assert notice.provider_reference is None
    for body in (b"", b"nope", b"[1]", b'{"status":"SUCCESS"}', b'{"status":"MAYBE","notif_token":"x"}'):
        with pytest.raises(ValueError, match=r"."):
            provider.parse_callback(body)
    with pytest.raises(ValueError, match="payout"):
        provider.parse_callback(NOTIFICATION, kind="payout")
