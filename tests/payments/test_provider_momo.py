"""MTN MoMo adapter against the fake MoMo over real HTTP."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from adapters.payments.mtn_momo.client import MomoConfig, MomoProvider
from resolvers.payments.providers import (
    CollectionRequest,
    PayoutRequest,
    ProviderRejected,
    ProviderUnavailable,
)
from tests.payments.fakes.base import CallbackSink
from tests.payments.fakes.momo import FakeMomo, MomoScenario
from tests.receiver import wait_for
from tests.support import free_port

RTP = "/collection/v1_0/requesttopay"
RTP_STATUS = "/collection/v1_0/requesttopay/{ref}"

# reference/providers.md §2, composed example callback (exact body).
MOMO_CALLBACK = (
    b'{"financialTransactionId":"1820456731","externalId":"INV-7781","amount":"1500","currency":"EUR",\n'
    b' "payer":{"partyIdType":"MSISDN","partyId":"46733123999"},"payerMessage":"Clinic visit",\n'
    b' "payeeNote":"INV-7781","status":"SUCCESSFUL"}'
)


def config(fake: FakeMomo, base_url: str | None = None, **overrides: object) -> MomoConfig:
    values: dict[str, object] = dict(
        base_url=base_url or fake.base_url, collection_subscription_key=fake.collection_key,
        api_user=fake.api_user, api_key=fake.api_key, target_environment="sandbox",
        callback_host="127.0.0.1", disbursement_subscription_key=fake.disbursement_key,
        timeout_seconds=2.0)
    values.update(overrides)
    return MomoConfig(**values)  # type: ignore[arg-type]


def collection(sink: CallbackSink, phone: str = "+46733123999", key: str | None = None,
               amount_minor: int = 150000, currency: str = "EUR") -> CollectionRequest:
    return CollectionRequest(payment_id="pay-1", attempt_key=key or str(uuid.uuid4()),
                             amount_minor=amount_minor, currency=currency, phone_e164=phone,
                             reference="INV-7781", description="Clinic visit's fee",
                             callback_url=f"{sink.url}/cb/momo/5d21")


async def test_request_to_pay_happy_path(fake_momo: FakeMomo, provider_http: httpx.AsyncClient,
                                         fake_callback_sink: CallbackSink) -> None:
    provider = MomoProvider(provider_http, config(fake_momo))
    request = collection(fake_callback_sink)
    ack = await provider.initiate_collection(request)
    assert ack.provider_reference == request.attempt_key
    sent = fake_momo.calls(RTP)[0]
    assert sent.headers["x-reference-id"] == request.attempt_key
    assert sent.headers["x-target-environment"] == "sandbox"
    assert sent.json["amount"] == "1500" and sent.json["payer"]["partyId"] == "46733123999"
    assert "'" not in sent.json["payerMessage"]
    status = await provider.query_collection(ack.provider_reference, request)
    assert status.state == "succeeded" and status.amount_minor == 150000
    assert status.currency == "EUR" and status.payer_e164 == "+46733123999"
    assert status.provider_transaction_id
    await fake_momo.settle()
    [callback] = fake_callback_sink.received
    notice = provider.parse_callback(callback.body)
    assert notice.claimed_state == "succeeded" and notice.provider_reference is None
    assert notice.claimed_amount_minor == 150000


async def test_retry_with_same_reference_is_an_ack(fake_momo: FakeMomo,
                                                   provider_http: httpx.AsyncClient,
                                                   fake_callback_sink: CallbackSink) -> None:
    provider = MomoProvider(provider_http, config(fake_momo))
    request = collection(fake_callback_sink)
    first = await provider.initiate_collection(request)
    again = await provider.initiate_collection(request)  # 409 RESOURCE_ALREADY_EXIST
    assert again.provider_reference == first.provider_reference
    assert again.extra.get("already_accepted") == "true"
    assert fake_momo.executed("collection") == 1


async def test_token_cached_and_renewed_on_401(fake_momo: FakeMomo, provider_http: httpx.AsyncClient,
                                               fake_callback_sink: CallbackSink) -> None:
    now = [0.0]
    provider = MomoProvider(provider_http, config(fake_momo), clock=lambda: now[0])
    await asyncio.gather(*(provider.initiate_collection(collection(fake_callback_sink))
                           for _ in range(5)))
    assert len(fake_momo.calls("/collection/token/")) == 1
    fake_momo.expire_tokens()
    await provider.initiate_collection(collection(fake_callback_sink))
    assert len(fake_momo.calls("/collection/token/")) == 2
    now[0] = 3600.0  # past expiry: renewed before the call
    await provider.initiate_collection(collection(fake_callback_sink))
    assert len(fake_momo.calls("/collection/token/")) == 3


@pytest.mark.parametrize(("msisdn", "state", "reason"), [
    ("46733123450", "failed", "INTERNAL_PROCESSING_ERROR"),
    ("46733123451", "cancelled", "APPROVAL_REJECTED"),
    ("46733123452", "expired", "EXPIRED"),
    ("46733123453", "pending", None),
    ("46733123455", "failed", "PAYER_NOT_FOUND"),
])
async def test_sandbox_magic_numbers(fake_momo: FakeMomo, provider_http: httpx.AsyncClient,
                                     fake_callback_sink: CallbackSink, msisdn: str, state: str,
                                     reason: str | None) -> None:
    provider = MomoProvider(provider_http, config(fake_momo))
    request = collection(fake_callback_sink, phone="+" + msisdn)
    ack = await provider.initiate_collection(request)
    status = await provider.query_collection(ack.provider_reference, request)
    assert status.state == state and status.reason == reason


async def test_delayed_number_then_callback_once(fake_momo: FakeMomo,
                                                 provider_http: httpx.AsyncClient,
                                                 fake_callback_sink: CallbackSink) -> None:
    fake_momo.delayed_seconds = 0.3
    provider = MomoProvider(provider_http, config(fake_momo))
    request = collection(fake_callback_sink, phone="+46733123454")
    ack = await provider.initiate_collection(request)
    assert (await provider.query_collection(ack.provider_reference, request)).state == "pending"
    await wait_for(lambda: len(fake_callback_sink.received) == 1)
    assert (await provider.query_collection(ack.provider_reference, request)).state == "succeeded"


async def test_callback_lost_is_not_retried(fake_momo: FakeMomo, provider_http: httpx.AsyncClient,
                                            fake_callback_sink: CallbackSink) -> None:
    fake_callback_sink.status = 503  # the gateway is down when MoMo calls back
    fake_momo.scenarios.next(MomoScenario(callback_method="PUT"))
    provider = MomoProvider(provider_http, config(fake_momo))
    request = collection(fake_callback_sink)
    ack = await provider.initiate_collection(request)
    await fake_momo.settle()
    assert [c.status for c in fake_momo.callbacks] == [503]  # once, no retry
    assert fake_callback_sink.received[0].method == "PUT"
    assert (await provider.query_collection(ack.provider_reference, request)).state == "succeeded"


async def test_callback_claims_success_while_status_failed(
        fake_momo: FakeMomo, provider_http: httpx.AsyncClient,
        fake_callback_sink: CallbackSink) -> None:
    fake_momo.scenarios.next(MomoScenario("FAILED", "NOT_ENOUGH_FUNDS", reason_as_object=True,
                                          callback_status="SUCCESSFUL"))
    provider = MomoProvider(provider_http, config(fake_momo))
    request = collection(fake_callback_sink)
    ack = await provider.initiate_collection(request)
    await fake_momo.settle()
    assert provider.parse_callback(fake_callback_sink.received[0].body).claimed_state == "succeeded"
    status = await provider.query_collection(ack.provider_reference, request)
    assert status.state == "failed" and status.reason and status.reason.startswith("NOT_ENOUGH_FUNDS")


async def test_errors_are_normalised(fake_momo: FakeMomo, provider_http: httpx.AsyncClient,
                                     fake_callback_sink: CallbackSink) -> None:
    provider = MomoProvider(provider_http, config(fake_momo))
    with pytest.raises(ProviderRejected) as currency:
        await provider.initiate_collection(collection(fake_callback_sink, currency="UGX",
                                                      amount_minor=1500))
    assert currency.value.code == "INVALID_CURRENCY"
    assert fake_momo.requests == []  # refused before sending
    other_host = MomoProvider(provider_http, config(fake_momo, callback_host=""))
    request = collection(fake_callback_sink)
    fake_momo.callback_host = "gw.example.org"
    with pytest.raises(ProviderRejected) as host:
        await other_host.initiate_collection(request)
    assert host.value.code == "INVALID_CALLBACK_URL_HOST"
    fake_momo.callback_host = "127.0.0.1"
    with pytest.raises(ProviderRejected) as bad_key:
        await provider.initiate_collection(collection(fake_callback_sink, key="not-a-uuid"))
    assert bad_key.value.code == "INVALID_REFERENCE_ID"
    for status in (500, 503, 429):
        fake_momo.fail(RTP, status)
        with pytest.raises(ProviderUnavailable) as unavailable:
            await provider.initiate_collection(collection(fake_callback_sink))
        assert unavailable.value.request_sent is True
    with pytest.raises(ProviderRejected) as missing:
        await provider.query_collection(str(uuid.uuid4()), request)
    assert missing.value.code == "not_found"
    wrong_key = MomoProvider(provider_http, config(fake_momo, collection_subscription_key="x"))
    with pytest.raises(ProviderUnavailable) as auth:
        await wrong_key.initiate_collection(collection(fake_callback_sink))
    assert auth.value.request_sent is False


async def test_timeouts_and_unknown_outcome_then_poll(fake_momo: FakeMomo,
                                                      provider_http: httpx.AsyncClient,
                                                      fake_callback_sink: CallbackSink) -> None:
    provider = MomoProvider(provider_http, config(fake_momo, timeout_seconds=0.3))
    await provider.collection.tokens.get()
    request = collection(fake_callback_sink)
    fake_momo.slow(RTP, 1.0)
    with pytest.raises(ProviderUnavailable) as slow:
        await provider.initiate_collection(request)
    assert slow.value.request_sent is True
    # The request landed: poll the same reference id rather than creating a new one.
    await wait_for(lambda: request.attempt_key in fake_momo.transactions)
    assert (await provider.query_collection(request.attempt_key, request)).state == "succeeded"
    dead = MomoProvider(provider_http, config(fake_momo, base_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(ProviderUnavailable) as refused:
        await dead.initiate_collection(request)
    assert refused.value.request_sent is False


async def test_disbursement_transfer(fake_momo: FakeMomo, provider_http: httpx.AsyncClient,
                                     fake_callback_sink: CallbackSink) -> None:
    provider = MomoProvider(provider_http, config(fake_momo))
    request = PayoutRequest(payout_id="po-1", attempt_key=str(uuid.uuid4()), amount_minor=2500,
                            currency="EUR", phone_e164="+46733123999", reference="REFUND-1",
                            description="Refund", result_url=f"{fake_callback_sink.url}/cb/momo/po",
                            timeout_url="")
    ack = await provider.initiate_payout(request)
    await provider.initiate_payout(request)  # a retry: 409, an ack, no second transfer
    assert fake_momo.executed("disbursement") == 1
    assert len(fake_momo.calls("/disbursement/token/")) == 1
    status = await provider.query_payout(ack.provider_reference, request)
    assert status.state == "succeeded" and status.amount_minor == 2500
    assert status.payer_e164 == "+46733123999"
    await fake_momo.settle()
    notice = provider.parse_callback(fake_callback_sink.received[0].body, kind="payout")
    assert notice.kind == "payout" and notice.claimed_state == "succeeded"
    without = MomoProvider(provider_http, config(fake_momo, disbursement_subscription_key=""))
    with pytest.raises(ProviderRejected) as info:
        await without.initiate_payout(request)
    assert info.value.code == "unsupported"


def test_parse_composed_callback_and_malformed() -> None:
    provider = MomoProvider(httpx.AsyncClient(), MomoConfig("http://x", "k", "u", "a"))
    notice = provider.parse_callback(MOMO_CALLBACK)
    assert notice.claimed_state == "succeeded" and notice.claimed_amount_minor == 150000
    assert notice.claimed_currency == "EUR" and notice.claimed_payer_e164 == "+46733123999"
    assert notice.provider_transaction_id == "1820456731"
    assert notice.event_id == "momo:collection:1820456731:SUCCESSFUL"
    failed = provider.parse_callback(
        b'{"status":"FAILED","reason":{"code":"APPROVAL_REJECTED","message":"no"},'
        b'"amount":"1","currency":"EUR"}')
    assert failed.claimed_state == "cancelled" and failed.reason == "APPROVAL_REJECTED: no"
    for body in (b"", b"{", b"[]", b"{}", b'{"status":"WHATEVER"}'):
        with pytest.raises(ValueError, match=r"."):
            provider.parse_callback(body)
