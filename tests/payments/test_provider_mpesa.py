"""M-Pesa Daraja adapter against the fake Daraja over real HTTP."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime

import httpx
import pytest

from adapters.payments.mpesa.client import EAT, MpesaConfig, MpesaProvider
from resolvers.payments.providers import (
    CollectionRequest,
    PayoutRequest,
    ProviderRejected,
    ProviderUnavailable,
)
from tests.payments.fakes.base import CallbackSink
from tests.payments.fakes.daraja import B2C, STK, TOKEN, B2CScenario, FakeDaraja, StkScenario
from tests.receiver import wait_for
from tests.support import free_port

PHONE = "+254711000111"

# reference/providers.md §1, composed example (exact body).
STK_CALLBACK = (
    b'{"Body":{"stkCallback":{"MerchantRequestID":"4410-1188-1","CheckoutRequestID":"ws_CO_01032'
    b'026101502123456",\n "ResultCode":0,"ResultDesc":"The service request is processed successfu'
    b'lly.",\n "CallbackMetadata":{"Item":[{"Name":"Amount","Value":500},{"Name":"MpesaReceiptNum'
    b'ber","Value":"TC13XYZ9QK"},\n {"Name":"TransactionDate","Value":20260301101531},{"Name":"Ph'
    b'oneNumber","Value":254711000111}]}}}}'
)


def config(fake: FakeDaraja, base_url: str | None = None, **overrides: object) -> MpesaConfig:
    values: dict[str, object] = dict(
        base_url=base_url or fake.base_url, consumer_key=fake.consumer_key,
        consumer_secret=fake.consumer_secret, shortcode=fake.shortcode, passkey=fake.passkey,
        b2c_initiator_name=fake.initiator, b2c_security_credential=fake.security_credential,
        b2c_shortcode=fake.b2c_shortcode, timeout_seconds=2.0)
    values.update(overrides)
    return MpesaConfig(**values)  # type: ignore[arg-type]


def collection(sink: CallbackSink, amount_minor: int = 50000, phone: str = PHONE,
               currency: str = "KES") -> CollectionRequest:
    return CollectionRequest(payment_id="pay-1", attempt_key="a1", amount_minor=amount_minor,
                             currency=currency, phone_e164=phone, reference="CONSULT4821-LONG",
                             description="Teleconsult for a patient",
                             callback_url=f"{sink.url}/cb/mpesa/stk/9f3c1e7a")


def payout(sink: CallbackSink, key: str = "b2c-attempt-1", phone: str = PHONE) -> PayoutRequest:
    return PayoutRequest(payout_id="po-1", attempt_key=key, amount_minor=150000, currency="KES",
                         phone_e164=phone, reference="REFUND-1", description="Refund",
                         result_url=f"{sink.url}/cb/mpesa/b2c/result/tok",
                         timeout_url=f"{sink.url}/cb/mpesa/b2c/timeout/tok")


async def test_stk_push_query_and_callback(fake_daraja: FakeDaraja, provider_http: httpx.AsyncClient,
                                           fake_callback_sink: CallbackSink) -> None:
    provider = MpesaProvider(provider_http, config(fake_daraja))
    request = collection(fake_callback_sink)
    ack = await provider.initiate_collection(request)
    assert ack.provider_reference.startswith("ws_CO_") and ack.redirect_url is None
    sent = fake_daraja.calls(STK)[0].json
    assert sent["Amount"] == 500 and sent["PartyA"] == sent["PhoneNumber"] == "254711000111"
    assert len(sent["AccountReference"]) <= 12 and len(sent["TransactionDesc"]) <= 13
    stamp = datetime.strptime(sent["Timestamp"], "%Y%m%d%H%M%S").replace(tzinfo=EAT)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60  # Kenyan local time
    assert base64.b64decode(sent["Password"]).decode() == f"174379pk-test{sent['Timestamp']}"
    status = await provider.query_collection(ack.provider_reference, request)
    assert status.state == "succeeded" and status.amount_minor is None
    await fake_daraja.settle()
    [callback] = fake_callback_sink.at("/cb/mpesa/stk/9f3c1e7a")
    notice = provider.parse_callback(callback.body)
    assert notice.provider_reference == ack.provider_reference
    assert notice.claimed_state == "succeeded" and notice.claimed_amount_minor == 50000
    assert notice.claimed_payer_e164 == PHONE and notice.claimed_currency == "KES"


async def test_token_cached_across_calls_and_renewed(fake_daraja: FakeDaraja,
                                                     provider_http: httpx.AsyncClient,
                                                     fake_callback_sink: CallbackSink) -> None:
    now = [0.0]
    provider = MpesaProvider(provider_http, config(fake_daraja), clock=lambda: now[0])
    request = collection(fake_callback_sink)
    acks = await asyncio.gather(*(provider.initiate_collection(request) for _ in range(5)))
    assert len({a.provider_reference for a in acks}) == 5
    assert len(fake_daraja.calls(TOKEN)) == 1
    now[0] = 3599 - 300 + 1  # past the renewal point (expires_in "3599" minus the margin)
    await provider.query_collection(acks[0].provider_reference, request)
    assert len(fake_daraja.calls(TOKEN)) == 2
    fake_daraja.expire_tokens()  # Daraja answers 404.001.03: renew once and resend
    status = await provider.query_collection(acks[1].provider_reference, request)
    assert status.state == "succeeded" and len(fake_daraja.calls(TOKEN)) == 3


@pytest.mark.parametrize(("code", "state"), [(1032, "cancelled"), (1037, "expired"),
                                             (1019, "expired"), (1, "failed"), (2001, "failed"),
                                             (17, "unknown")])
async def test_result_codes(fake_daraja: FakeDaraja, provider_http: httpx.AsyncClient,
                            fake_callback_sink: CallbackSink, code: int, state: str) -> None:
    fake_daraja.stk.for_key("254711000111", StkScenario(result_code=code))
    provider = MpesaProvider(provider_http, config(fake_daraja))
    ack = await provider.initiate_collection(collection(fake_callback_sink))
    status = await provider.query_collection(ack.provider_reference, collection(fake_callback_sink))
    assert status.state == state and status.reason and status.reason.startswith(str(code))
    await fake_daraja.settle()
    notice = provider.parse_callback(fake_callback_sink.received[0].body)
    assert notice.claimed_state == state and notice.claimed_amount_minor is None


async def test_being_processed_is_pending(fake_daraja: FakeDaraja, provider_http: httpx.AsyncClient,
                                          fake_callback_sink: CallbackSink) -> None:
    fake_daraja.stk.next(StkScenario(processing_queries=2, callback=False))
    provider = MpesaProvider(provider_http, config(fake_daraja))
    request = collection(fake_callback_sink)
    ack = await provider.initiate_collection(request)
    states = [(await provider.query_collection(ack.provider_reference, request)).state
              for _ in range(3)]
    assert states == ["pending", "pending", "succeeded"]
    await fake_daraja.settle()
    assert fake_callback_sink.received == []  # the callback never arrived


async def test_callback_claims_success_while_query_says_failed(
        fake_daraja: FakeDaraja, provider_http: httpx.AsyncClient,
        fake_callback_sink: CallbackSink) -> None:
    fake_daraja.stk.next(StkScenario(result_code=1, callback_result_code=0, callback_copies=3,
                                     callback_concurrent=True, callback_delay=0.1))
    provider = MpesaProvider(provider_http, config(fake_daraja))
    request = collection(fake_callback_sink)
    ack = await provider.initiate_collection(request)
    await wait_for(lambda: len(fake_callback_sink.received) == 3)
    notices = [provider.parse_callback(r.body) for r in fake_callback_sink.received]
    assert {n.claimed_state for n in notices} == {"succeeded"}
    assert len({n.event_id for n in notices}) == 1  # the inbox dedupes on CheckoutRequestID
    assert (await provider.query_collection(ack.provider_reference, request)).state == "failed"


async def test_refusals_before_sending(fake_daraja: FakeDaraja, provider_http: httpx.AsyncClient,
                                       fake_callback_sink: CallbackSink) -> None:
    provider = MpesaProvider(provider_http, config(fake_daraja))
    with pytest.raises(ProviderRejected, match="whole shillings"):
        await provider.initiate_collection(collection(fake_callback_sink, amount_minor=50050))
    with pytest.raises(ProviderRejected, match="KES"):
        await provider.initiate_collection(collection(fake_callback_sink, currency="UGX"))
    with pytest.raises(ProviderRejected) as info:
        await provider.initiate_collection(collection(fake_callback_sink, phone="+256772123456"))
    assert info.value.code == "invalid_phone"
    assert fake_daraja.requests == []


async def test_daraja_errors_are_normalised(fake_daraja: FakeDaraja, provider_http: httpx.AsyncClient,
                                            fake_callback_sink: CallbackSink) -> None:
    provider = MpesaProvider(provider_http, config(fake_daraja))
    request = collection(fake_callback_sink)
    fake_daraja.fail(STK, 400, body={"requestId": "1", "errorCode": "400.002.02",
                                     "errorMessage": "Bad Request - Invalid Amount"})
    with pytest.raises(ProviderRejected) as rejected:
        await provider.initiate_collection(request)
    assert rejected.value.code == "400.002.02"
    for status in (500, 503, 429):
        fake_daraja.fail(STK, status)
        with pytest.raises(ProviderUnavailable) as unavailable:
            await provider.initiate_collection(request)
        assert unavailable.value.request_sent is True
    wrong = MpesaProvider(provider_http, config(fake_daraja, passkey="wrong"))
    with pytest.raises(ProviderUnavailable, match=r"500\.001\.1001"):
        await wrong.initiate_collection(request)  # Daraja's "Merchant does not exist"
    with pytest.raises(ProviderUnavailable, match="Merchant does not exist"):
        await wrong.query_collection("ws_CO_x", request)  # same code, not "being processed"
    bad_creds = MpesaProvider(provider_http, config(fake_daraja, consumer_secret="nope"))
    with pytest.raises(ProviderUnavailable) as auth:
        await bad_creds.initiate_collection(request)
    assert auth.value.request_sent is False and "400.008.01" in str(auth.value)


async def test_read_timeout_vs_connect_refused(fake_daraja: FakeDaraja,
                                               provider_http: httpx.AsyncClient,
                                               fake_callback_sink: CallbackSink) -> None:
    provider = MpesaProvider(provider_http, config(fake_daraja, timeout_seconds=0.3))
    await provider.tokens.get()
    fake_daraja.slow(STK, 1.0)
    with pytest.raises(ProviderUnavailable) as slow:
        await provider.initiate_collection(collection(fake_callback_sink))
    assert slow.value.request_sent is True
    dead = MpesaProvider(provider_http, config(fake_daraja, base_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(ProviderUnavailable) as refused:
        await dead.initiate_collection(collection(fake_callback_sink))
    assert refused.value.request_sent is False


async def test_b2c_result_and_exactly_once(fake_daraja: FakeDaraja, provider_http: httpx.AsyncClient,
                                           fake_callback_sink: CallbackSink) -> None:
    provider = MpesaProvider(provider_http, config(fake_daraja))
    request = payout(fake_callback_sink)
    ack = await provider.initiate_payout(request)
    assert ack.provider_reference.startswith("AG_")
    assert fake_daraja.calls(B2C)[0].json["OriginatorConversationID"] == request.attempt_key
    await fake_daraja.settle()
    [result] = fake_callback_sink.at("/cb/mpesa/b2c/result/tok")
    notice = provider.parse_callback(result.body, kind="payout")
    assert notice.kind == "payout" and notice.claimed_state == "succeeded"
    assert notice.provider_reference == ack.provider_reference
    assert notice.claimed_amount_minor == 150000 and notice.claimed_payer_e164 == PHONE
    assert notice.attempt_key == request.attempt_key
    assert fake_daraja.executed_payouts == 1


async def test_b2c_queue_timeout_then_status_reveals_success(
        fake_daraja: FakeDaraja, provider_http: httpx.AsyncClient,
        fake_callback_sink: CallbackSink) -> None:
    fake_daraja.b2c.next(B2CScenario(queue_timeout=True))
    provider = MpesaProvider(provider_http, config(fake_daraja))
    request = payout(fake_callback_sink)
    ack = await provider.initiate_payout(request)
    await fake_daraja.settle()
    [timeout] = fake_callback_sink.at("/cb/mpesa/b2c/timeout/tok")
    notice = provider.parse_callback(timeout.body, kind="payout_timeout")
    assert notice.kind == "payout_timeout" and notice.claimed_state == "unknown"
    # Never resend: ask. The answer arrives at the ResultURL.
    status = await provider.query_payout(ack.provider_reference, request)
    assert status.state == "unknown"
    await fake_daraja.settle()
    [result] = fake_callback_sink.at("/cb/mpesa/b2c/result/tok")
    revealed = provider.parse_callback(result.body, kind="payout")
    assert revealed.claimed_state == "succeeded"
    assert revealed.provider_reference == ack.provider_reference
    assert fake_daraja.executed_payouts == 1 and len(fake_daraja.calls(B2C)) == 1


async def test_b2c_duplicate_originator_moves_no_money(
        fake_daraja: FakeDaraja, provider_http: httpx.AsyncClient,
        fake_callback_sink: CallbackSink) -> None:
    provider = MpesaProvider(provider_http, config(fake_daraja))
    await provider.initiate_payout(payout(fake_callback_sink))
    await provider.initiate_payout(payout(fake_callback_sink))
    await fake_daraja.settle()
    notices = [provider.parse_callback(r.body, kind="payout") for r in fake_callback_sink.received]
    assert sorted(n.claimed_state for n in notices) == ["succeeded", "unknown"]  # 15: duplicate
    assert fake_daraja.executed_payouts == 1


async def test_payouts_unsupported_without_b2c(fake_daraja: FakeDaraja,
                                               provider_http: httpx.AsyncClient,
                                               fake_callback_sink: CallbackSink) -> None:
    provider = MpesaProvider(provider_http, config(fake_daraja, b2c_initiator_name=""))
    with pytest.raises(ProviderRejected) as info:
        await provider.initiate_payout(payout(fake_callback_sink))
    assert info.value.code == "unsupported"


def test_parse_composed_stk_callback() -> None:
    provider = MpesaProvider(httpx.AsyncClient(), MpesaConfig("http://x", "k", "s", "174379", "p"))
    notice = provider.parse_callback(STK_CALLBACK)
    assert notice.provider_reference == "ws_CO_01032026101502123456"
    assert notice.claimed_state == "succeeded" and notice.kind == "collection"
    assert notice.claimed_amount_minor == 50000 and notice.claimed_payer_e164 == "+254711000111"
    assert notice.provider_transaction_id == "TC13XYZ9QK"
    assert notice.event_id == "stk:ws_CO_01032026101502123456"


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"Body":{}}',
                                  b'{"Body":{"stkCallback":{"CheckoutRequestID":"x"}}}',
                                  b'{"Body":{"stkCallback":{"CheckoutRequestID":"x","ResultCode":"a"}}}'])
def test_malformed_callbacks(body: bytes) -> None:
    provider = MpesaProvider(httpx.AsyncClient(), MpesaConfig("http://x", "k", "s", "174379", "p"))
    with pytest.raises(ValueError, match=r"."):
        provider.parse_callback(body)
    with pytest.raises(ValueError, match=r"."):
        provider.parse_callback(body, kind="payout")
