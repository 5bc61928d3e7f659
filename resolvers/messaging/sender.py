"""The due-sender: claims due messages (a lease, compare-and-set on a claim token), sends
them through the Graph API and settles each one.

- Never twice from several processes: a row is claimed by one sender at a time, and only the
  claim's holder settles it. The wamid is stored in the same statement that marks the row
  sent, before anything else could retry it.
- Checked again at send time: an opt-out, a withdrawn consent, a template no longer APPROVED
  or (free-form text) a closed 24-hour window stops the message with the reason.
- Retries: only when no answer arrived, on 5xx, and on rate limits (130429, 131056, ...),
  with exponential backoff (or the wait the answer gave) up to ``max_attempts``. 131026
  (undeliverable), 132000 (parameters) and 131047 (window) fail for good with the reason. An
  expired token (190) keeps the message scheduled without counting an attempt, logs an
  error and shows on /readyz's detail (``token_expired``), until an operator renews it.
- Throughput: a token bucket of CARI_WHATSAPP_MESSAGES_PER_SECOND in this process (run one
  sender per number, or divide the rate between processes), and a per-recipient spacing of
  CARI_WHATSAPP_PAIR_INTERVAL_SECONDS (a message that comes too early waits, uncounted).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from resolvers.ids import new_id
from resolvers.messaging.events import message_events
from resolvers.messaging.model import (
    GraphFailure,
    MessageKind,
    MessageStatus,
    MessagingConfig,
    StoredMessage,
)
from resolvers.messaging.ports import GraphApi, MessagingStore
from resolvers.messaging.rules import template_problem
from resolvers.messaging.scheduler import Scheduling

log = logging.getLogger("cari.messaging")
# Codes after which sending the same message again cannot succeed.
WINDOW_CLOSED = 131047
MAX_SPACED_PHONES = 10_000


class TokenBucket:
    """``rate`` sends per second with a burst of one second's worth (monotonic clock)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._clock = clock
        self._at = clock()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
                self._at = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self._rate)


class SenderHealth:
    """What /readyz may tell about the channel (set by the sender)."""

    def __init__(self) -> None:
        self.token_expired = False
        self.last_error: str | None = None


class DueSender:
    def __init__(self, store: MessagingStore, graph: GraphApi, scheduling: Scheduling,
                 config: MessagingConfig, now: Callable[[], datetime]) -> None:
        self._store = store
        self._graph = graph
        self._scheduling = scheduling
        self._config = config
        self._now = now
        self._bucket = TokenBucket(config.messages_per_second)
        self._next_to: dict[str, float] = {}  # phone -> monotonic time of its next send
        self._wake = asyncio.Event()
        self.health = SenderHealth()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("whatsapp send pass failed; will retry")
                handled = 0
            if handled:
                continue
            self._wake.clear()
            waiters = {asyncio.ensure_future(stop.wait()),
                       asyncio.ensure_future(self._wake.wait())}
            _, pending = await asyncio.wait(waiters, timeout=self._config.poll_seconds,
                                            return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()

    async def run_once(self) -> int:
        now = self._now()
        token = new_id()
        claimed = await self._store.claim_due(
            now=now, limit=self._config.batch_size,
            lease_until=now + timedelta(seconds=self._config.lease_seconds), claim_token=token)
        if claimed:
            await asyncio.gather(*(self._send(m, token) for m in claimed))
        return len(claimed)

    async def _send(self, message: StoredMessage, token: str) -> None:
        try:
            await self._send_checked(message, token)
        except Exception:  # one message's surprise never stops the others
            log.exception("whatsapp send failed unexpectedly",
                          extra={"message_id": message.id})

    async def _send_checked(self, message: StoredMessage, token: str) -> None:
        if (refusal := await self._refusal(message)) is not None:
            await self._settle(message, token, refusal[0], reason=refusal[1])
            return
        assert message.phone is not None
        wait = self._next_to.get(message.phone, 0.0) - time.monotonic()
        if wait > 0:  # pair spacing: not an attempt, just later
            await self._store.settle(message.id, token, status=MessageStatus.SCHEDULED,
                                     at=self._now(), next_attempt_at=self._now()
                                     + timedelta(seconds=wait))
            return
        self._space(message.phone)
        await self._bucket.take()
        result = await self._graph.send(message)
        if result.wamid is not None:
            self.health.token_expired = False
            await self._settle(message, token, MessageStatus.SENT, wamid=result.wamid,
                               attempts=message.attempts + 1)
            log.info("whatsapp message sent", extra={"message_id": message.id,
                                                     "purpose": message.purpose.value})
            return
        assert result.failure is not None
        await self._failed(message, token, result.failure)

    def _space(self, phone: str) -> None:
        now = time.monotonic()
        if len(self._next_to) > MAX_SPACED_PHONES:  # forget phones whose spacing is over
            self._next_to = {p: t for p, t in self._next_to.items() if t > now}
        self._next_to[phone] = now + self._config.pair_interval_seconds

    async def _refusal(self, message: StoredMessage) -> tuple[MessageStatus, str] | None:
        """(suppressed or failed, why) when the message may not go out now."""
        if message.phone is None:
            return MessageStatus.SUPPRESSED, "no phone number"
        reason = await self._scheduling.unsendable(
            message.phone, message.patient_id, message.requires_consent, message.purpose)
        if reason is not None:
            return MessageStatus.SUPPRESSED, reason
        if message.kind is MessageKind.TEXT:
            if not await self._scheduling.window_open(message.phone):
                return MessageStatus.FAILED, (
                    "outside the 24-hour customer service window: the recipient has not "
                    "written in 24 hours; only a template can be sent")
            return None
        assert message.template is not None
        template = await self._store.get_template(message.template.name,
                                                  message.template.language)
        problem = template_problem(template, message.template)
        return (MessageStatus.FAILED, problem) if problem is not None else None

    async def _failed(self, message: StoredMessage, token: str, failure: GraphFailure) -> None:
        now = self._now()
        extra = {"message_id": message.id, "error_code": failure.code,
                 "answered": failure.answered}
        if failure.token_expired:
            self.health.token_expired = True
            self.health.last_error = "access token expired (190)"
            log.error("whatsapp access token expired: messages wait until it is renewed",
                      extra=extra)
            await self._store.settle(message.id, token, status=MessageStatus.SCHEDULED, at=now,
                                     next_attempt_at=now + timedelta(
                                         seconds=self._config.token_retry_seconds),
                                     reason="waiting: the WhatsApp access token expired",
                                     error_code=failure.code)
            return
        attempts = message.attempts + 1
        if failure.retryable and attempts < self._config.max_attempts:
            delay = max(failure.retry_after or 0.0, self._config.backoff(attempts))
            log.warning("whatsapp send will be retried", extra={**extra, "attempt": attempts})
            await self._store.settle(message.id, token, status=MessageStatus.SCHEDULED, at=now,
                                     next_attempt_at=now + timedelta(seconds=delay),
                                     attempts=attempts, reason=f"retrying: {failure.title}",
                                     error_code=failure.code)
            return
        reason = failure.title
        if failure.code == WINDOW_CLOSED:
            reason = f"outside the 24-hour customer service window (131047): {failure.title}"
        elif failure.retryable:
            reason = f"gave up after {attempts} attempts: {failure.title}"
        log.warning("whatsapp send failed", extra={**extra, "attempt": attempts})
        await self._settle(message, token, MessageStatus.FAILED, reason=reason,
                           error_code=failure.code, attempts=attempts)

    async def _settle(self, message: StoredMessage, token: str, status: MessageStatus, *,
                      reason: str | None = None, wamid: str | None = None,
                      error_code: int | None = None, attempts: int | None = None) -> None:
        now = self._now()
        settled = replace(message, status=status, reason=reason, error_code=error_code,
                          wamid=wamid)
        await self._store.settle(message.id, token, status=status, at=now, wamid=wamid,
                                 reason=reason, error_code=error_code, attempts=attempts,
                                 events=message_events(settled, now))
