"""A circuit breaker per HIE: after repeated failures an HIE is not asked for a while.

Closed: calls go through; ``threshold`` consecutive failures open it. Open: calls are refused
at once until ``reset_seconds`` have passed. Then one trial call goes through (half-open):
success closes it, failure opens it again for another ``reset_seconds``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _State:
    failures: int = 0
    opened_at: float | None = None
    trial: bool = False  # a half-open trial call is under way


class CircuitBreakers:
    def __init__(self, clock: Callable[[], float], *, threshold: int = 5,
                 reset_seconds: float = 30.0) -> None:
        self._clock = clock
        self._threshold = max(1, threshold)
        self._reset = reset_seconds
        self._states: dict[str, _State] = {}

    def allow(self, key: str) -> bool:
        """Whether ``key`` may be called now (a half-open trial counts as a call)."""
        state = self._states.get(key)
        if state is None or state.opened_at is None:
            return True
        if state.trial or self._clock() - state.opened_at < self._reset:
            return False
        state.trial = True
        return True

    def succeeded(self, key: str) -> None:
        self._states.pop(key, None)

    def failed(self, key: str) -> None:
        state = self._states.setdefault(key, _State())
        state.failures += 1
        if state.trial or state.failures >= self._threshold:
            state.opened_at = self._clock()
        state.trial = False

    def is_open(self, key: str) -> bool:
        state = self._states.get(key)
        return state is not None and state.opened_at is not None

    def state(self, key: str) -> tuple[str, int]:
        """(closed | open | half_open, consecutive failures) for the console's health page."""
        state = self._states.get(key)
        if state is None:
            return "closed", 0
        if state.opened_at is None:
            return "closed", state.failures
        if state.trial or self._clock() - state.opened_at >= self._reset:
            return "half_open", state.failures
        return "open", state.failures
