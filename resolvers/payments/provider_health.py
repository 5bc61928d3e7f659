"""Each payment provider's health for the console: configured or not, its calls' outcomes in
this process (:mod:`resolvers.payments.provider_outcomes`) and its last answer recorded in the
payments store, which survives a restart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from resolvers.payments.model import PROVIDERS
from resolvers.payments.ports import ProviderAnswers
from resolvers.payments.provider_outcomes import CallOutcomes, ProviderCallRecorder


@dataclass(frozen=True)
class PaymentProviderHealth:
    provider: str  # mpesa | mtn_momo | orange_money | stripe
    configured: bool
    state: str  # unknown | ok | degraded | failing (this process's calls)
    last_success: datetime | None  # this process
    last_failure: datetime | None  # this process
    last_error: str  # the error class and the start of its message, long numbers masked
    consecutive_failures: int
    stored_last_answer: datetime | None  # the payments store's last answer, any process


class PaymentProvidersHealth:
    def __init__(self, recorder: ProviderCallRecorder, answers: ProviderAnswers,
                 configured: Callable[[], frozenset[str]]) -> None:
        self._recorder = recorder
        self._answers = answers
        self._configured = configured

    async def providers(self) -> list[PaymentProviderHealth]:
        stored = await self._answers.last_answers()
        configured = self._configured()
        return [self._health(name, name in configured, self._recorder.outcomes(name),
                             stored.get(name)) for name in PROVIDERS]

    def states(self) -> dict[str, str]:
        """Each configured provider's state from this process's calls alone (no store read:
        /readyz asks this, and it stays cheap and never fails on a provider)."""
        return {name: self._recorder.outcomes(name).state for name in sorted(self._configured())}

    @staticmethod
    def _health(name: str, configured: bool, calls: CallOutcomes,
                stored: datetime | None) -> PaymentProviderHealth:
        return PaymentProviderHealth(
            provider=name, configured=configured, state=calls.state,
            last_success=calls.last_success, last_failure=calls.last_failure,
            last_error=calls.last_error, consecutive_failures=calls.consecutive_failures,
            stored_last_answer=stored)


