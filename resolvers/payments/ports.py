"""Ports of the payments capability besides the repository (``repository.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

# Transitions that record an answer from the provider (resolvers/payments/initiate.py and
# settle.py write these reasons): its acknowledgement, its refusal, its reported status.
# Callbacks and Stripe events are answers whatever their reason.
ANSWER_REASON_PREFIXES = ("provider accepted", "provider refused", "provider reports")
ANSWER_SOURCES = ("callback", "query", "stripe")


class ProviderAnswers(Protocol):
    async def last_answers(self) -> dict[str, datetime]:
        """provider -> when a stored payment transition last recorded its answer (a request
        accepted or refused, a status reported by a query, a callback, a Stripe event), among
        the most recent transitions only (the adapter bounds the scan)."""
        ...
