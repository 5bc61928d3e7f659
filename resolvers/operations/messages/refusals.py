"""Messages refused before storage, kept for the message log: an HL7 message that does not
parse or is not an ORU^R01 (HTTP 400/422, an MLLP AE/AR, a GraphQL error) and a webhook whose
signature or framing failed (HTTP 401/400).

Only the refusal path writes here, so accepted traffic does not pay for it. A flood of
garbage cannot fill the disk: at most ``per_minute`` refusals are kept per minute and
process (the rest are counted as dropped), HL7 bodies are kept up to 64 KiB and webhook
bodies, unauthenticated input, only as a 512-byte prefix (the whole body's size and SHA-256
are kept either way, so an operator can still match it with the sender's copy); each new
minute prunes rows older than the retention and all but the newest ``max_rows``. A failure
to record is logged and never changes the answer the sender gets.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from resolvers.clock import Clock
from resolvers.ids import new_id
from resolvers.operations.messages.records import (
    WEBHOOK_PREFIX,
    RefusedMessage,
    RefusedMessageStore,
)

log = logging.getLogger("cari.message_log")

HL7_BODY_BYTES = 64 * 1024
WEBHOOK_BODY_BYTES = 512
REASON_CHARS = 500
DroppedCounter = Callable[[str], None]  # called with the channel of each refusal not kept


@dataclass(frozen=True)
class RefusalLimits:
    per_minute: int = 60
    retention: timedelta = timedelta(days=30)
    max_rows: int = 20_000


@dataclass(frozen=True)
class Hl7Header:
    sender: str | None
    control_id: str | None
    message_type: str | None


def read_header(text: str) -> Hl7Header:
    """MSH-4 (else MSH-3), MSH-10 and MSH-9 by a plain split of the first segment, for a
    message the parser refused: whatever can be read, else None."""
    first = text.lstrip()[:4096].replace("\n", "\r").split("\r", 1)[0]
    if not first.startswith("MSH") or len(first) < 4:
        return Hl7Header(None, None, None)
    fields = first.split(first[3])  # fields[n - 1] is MSH-n (MSH-1 is the separator)
    component = fields[1][:1] if len(fields) > 1 and fields[1] else "^"

    def field(number: int, *, whole: bool = False) -> str | None:
        value = fields[number - 1].strip() if len(fields) >= number else ""
        value = value if whole else value.split(component)[0].strip()
        return value[:255] or None

    return Hl7Header(field(4) or field(3), field(10, whole=True),
                     (field(9, whole=True) or "")[:64] or None)


# NUL and lone surrogates, written raw or as JSON escapes (a refused body is often JSON).
_UNSTORABLE = re.compile(r"\x00|\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def _storable(text: str) -> str:
    return _UNSTORABLE.sub("\ufffd", text.encode("utf-8", errors="replace").decode("utf-8"))


def _kept(raw: bytes, limit: int) -> tuple[str, bool]:
    """The kept copy, for display: the gateway stores neither NUL nor lone surrogates (and
    PostgreSQL text takes no NUL), so they, like a multi-byte character cut at the limit,
    become U+FFFD; the size and SHA-256 are of the body as received."""
    return _storable(raw[:limit].decode("utf-8", errors="replace")), len(raw) > limit


class RefusedMessages:
    def __init__(self, store: RefusedMessageStore, clock: Clock,
                 limits: RefusalLimits | None = None,
                 dropped: DroppedCounter | None = None) -> None:
        self._store = store
        self._clock = clock
        self.limits = limits or RefusalLimits()
        self._count_dropped = dropped
        self._minute: datetime | None = None
        self._kept_this_minute = 0
        self.dropped = 0  # refusals not kept because of the cap, since start

    async def hl7(self, channel: str, raw: bytes | str, *, reason: str, answer: str) -> None:
        data = raw.encode("utf-8", errors="replace") if isinstance(raw, str) else raw
        body, truncated = _kept(data, HL7_BODY_BYTES)
        header = read_header(body)
        await self._record(channel, data, body, truncated, header, reason, answer)

    async def webhook(self, provider: str, raw: bytes, *, reason: str, answer: str) -> None:
        body, truncated = _kept(raw, WEBHOOK_BODY_BYTES)
        await self._record(WEBHOOK_PREFIX + provider, raw, body, truncated,
                           Hl7Header(provider, None, None), reason, answer)

    async def _record(self, channel: str, data: bytes, body: str, truncated: bool,
                      header: Hl7Header, reason: str, answer: str) -> None:
        now = self._clock.now()
        minute = now.replace(second=0, microsecond=0)
        new_minute = minute != self._minute
        if new_minute:
            self._minute, self._kept_this_minute = minute, 0
        if self._kept_this_minute >= self.limits.per_minute:
            self.dropped += 1
            if self._count_dropped is not None:
                self._count_dropped(channel)
            return
        self._kept_this_minute += 1
        refused = RefusedMessage(
            id=new_id(), received_at=now, channel=channel[:48], sender=header.sender,
            control_id=header.control_id, message_type=header.message_type,
            reason=_storable(reason)[:REASON_CHARS], answer=answer[:48], body=body,
            body_truncated=truncated, size=len(data), sha256=hashlib.sha256(data).hexdigest())
        try:
            await self._store.add(refused)
            if new_minute:
                await self._store.prune(before=now - self.limits.retention,
                                        keep=self.limits.max_rows)
        except Exception as exc:  # the sender's answer must not depend on the log
            log.warning("refused message not recorded", exc_info=exc,
                        extra={"channel": channel})
