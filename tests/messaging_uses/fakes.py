"""An in-memory MessageScheduler with the port's promises: idempotent per key (a key stored
once, even cancelled, is answered as it stands) and cancel by key prefix of what is not
sent yet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from resolvers.messaging.model import MessageRequest, ScheduledMessage


class FakeScheduler:
    def __init__(self) -> None:
        self.requests: dict[str, MessageRequest] = {}
        self.stored: dict[str, ScheduledMessage] = {}

    async def schedule(self, requests: Sequence[MessageRequest]) -> list[ScheduledMessage]:
        out = []
        for r in requests:
            if r.key not in self.stored:
                self.requests[r.key] = r
                self.stored[r.key] = ScheduledMessage(f"m{len(self.stored) + 1}", r.key,
                                                      r.purpose, "scheduled", r.send_at)
            out.append(self.stored[r.key])
        return out

    async def cancel(self, key_prefix: str) -> int:
        count = 0
        for key, m in self.stored.items():
            if key.startswith(key_prefix) and m.status == "scheduled":
                self.stored[key] = replace(m, status="cancelled")
                count += 1
        return count

    def send_due(self, now: datetime) -> list[MessageRequest]:
        """What a sender would send by ``now`` (marks it sent)."""
        sent = []
        for key, m in self.stored.items():
            if m.status == "scheduled" and m.send_at <= now:
                self.stored[key] = replace(m, status="sent")
                sent.append(self.requests[key])
        return sent

    def pending(self) -> dict[str, MessageRequest]:
        return {k: self.requests[k] for k, m in self.stored.items() if m.status == "scheduled"}
