"""The ports other capabilities use to message patients and clinicians."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from resolvers.messaging.model import MessageRequest, QuickReply, ScheduledMessage


class MessageScheduler(Protocol):
    async def schedule(self, requests: Sequence[MessageRequest]) -> list[ScheduledMessage]:
        """Store the messages (committed before return) for sending at ``send_at``.

        Idempotent per key: a key already stored is answered as it stands. A request that
        cannot be sent (no phone, no consent, opted out) is stored as ``suppressed`` with the
        reason, not raised, so that callers scheduling in bulk see every outcome.
        """
        ...

    async def cancel(self, key_prefix: str) -> int:
        """Cancel the not-yet-sent messages whose key starts with ``key_prefix``; how many."""
        ...


class QuickReplyHandler(Protocol):
    async def on_quick_reply(self, reply: QuickReply) -> None:
        """Called once per inbound button reply whose payload starts with the prefix the
        handler is registered for (``appointment:``); raise to have the inbox retry it."""
        ...
