"""The payment providers' call recorder: what the console's health page shows per provider
(last success, last failure with a short error, consecutive failures, a state), record-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from resolvers.payments.provider_outcomes import (
    FAILING_AFTER,
    ProviderCallRecorder,
    RecordedProvider,
    short_error,
)
from resolvers.payments.providers import (
    CollectionRequest,
    ProviderRejected,
    ProviderStatus,
    ProviderUnavailable,
)
from tests.payments.fake_provider import FakeProvider

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Ticking:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


async def _ok() -> str:
    return "answer"


async def _down() -> str:
    raise ProviderUnavailable("mtn_momo: HTTP 503 for request to pay +256772123456",
                              request_sent=True)


async def _refused() -> str:
    raise ProviderRejected("INVALID_CURRENCY", "Currency not supported.")


async def test_a_provider_never_called_is_unknown() -> None:
    recorder = ProviderCallRecorder(Ticking())
    outcomes = recorder.outcomes("mpesa")
    assert outcomes.state == "unknown"
    assert (outcomes.last_success, outcomes.last_failure, outcomes.consecutive_failures) == (
        None, None, 0)


async def test_failures_in_a_row_turn_failing_then_one_success_turns_ok() -> None:
    clock = Ticking()
    recorder = ProviderCallRecorder(clock)
    assert await recorder.call("mtn_momo", _ok) == "answer"
    first_success = recorder.outcomes("mtn_momo").last_success
    assert recorder.outcomes("mtn_momo").state == "ok" and first_success is not None

    for count in range(1, FAILING_AFTER + 1):
        with pytest.raises(ProviderUnavailable):  # the error passes through unchanged
            await recorder.call("mtn_momo", _down)
        outcomes = recorder.outcomes("mtn_momo")
        assert outcomes.consecutive_failures == count
        assert outcomes.state == ("failing" if count >= FAILING_AFTER else "degraded")
    assert outcomes.last_success == first_success
    assert outcomes.last_failure == clock.now
    # The class and message, the phone number masked.
    assert outcomes.last_error.startswith("ProviderUnavailable: mtn_momo: HTTP 503")
    assert "256772123456" not in outcomes.last_error and "…" in outcomes.last_error

    await recorder.call("mtn_momo", _ok)
    healed = recorder.outcomes("mtn_momo")
    assert (healed.state, healed.consecutive_failures) == ("ok", 0)
    assert healed.last_success == clock.now
    assert healed.last_failure is not None and healed.last_error  # still shown
    assert recorder.outcomes("mpesa").state == "unknown"  # per provider


async def test_a_refusal_is_an_answer_not_an_outage() -> None:
    recorder = ProviderCallRecorder(Ticking())
    await _fail_once(recorder)
    with pytest.raises(ProviderRejected):
        await recorder.call("orange_money", _refused)
    outcomes = recorder.outcomes("orange_money")
    assert (outcomes.state, outcomes.consecutive_failures) == ("ok", 0)


async def _fail_once(recorder: ProviderCallRecorder) -> None:
    with pytest.raises(ProviderUnavailable):
        await recorder.call("orange_money", _down)


def test_short_error_is_bounded_and_masks_long_numbers() -> None:
    text = short_error(RuntimeError("account 1234567890 " + "x" * 500))
    assert text.startswith("RuntimeError: account … x") and len(text) == 160
    assert short_error(TimeoutError()) == "TimeoutError"


async def test_recorded_provider_passes_answers_through_and_records_them() -> None:
    fake = FakeProvider()
    recorder = ProviderCallRecorder(Ticking())
    provider = RecordedProvider(fake, recorder)
    request = CollectionRequest("p1", "k1", 100, "KES", "+254712345678", "INV-1", "d", "")
    ack = await provider.initiate_collection(request)
    status = await provider.query_collection(ack.provider_reference, request)
    assert isinstance(status, ProviderStatus)
    assert provider.name == fake.name and provider.currencies == fake.currencies
    assert recorder.outcomes(fake.name).state == "ok"
