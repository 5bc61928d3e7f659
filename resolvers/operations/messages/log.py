"""The message log's use cases: search it, open one message (masked), reveal one (audited).

Opening a message shows patient data (results, the patient link), so it is audited like any
read of a lab result; identifiers and names stay masked until the operator reveals them, and
a reveal is its own audit record (purpose ``console-reveal``) naming the patient.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.clock import Clock
from resolvers.errors import Forbidden, NotFound
from resolvers.operations.messages.hl7_fields import Hl7Segment, as_text, mask, segments
from resolvers.operations.messages.records import (
    MAX_PAGE,
    WEBHOOK_PREFIX,
    LoggedMessage,
    MessageCursor,
    MessageLogStore,
    MessageQuery,
    RefusedMessage,
    StoredMessage,
)
from resolvers.principal import Caller, Role, require_role

RESOURCE = "InboundMessage"
REVEAL_PURPOSE = "console-reveal"
# A refused webhook's kept prefix is unauthenticated and may be a real provider event (a
# wrong secret refuses genuine deliveries): hidden whole until an audited reveal.
HIDDEN_PREFIX = "({n} characters kept, hidden until revealed)"
ROLES = (Role.INTEGRATOR,)  # and admin, who may do everything

# The ACKs the MLLP listener answered a stored message with, rebuilt from the stored text
# by the listener's own rules (adapters/hl7v2/ack.py stored_ack).
AckWriter = Callable[[str], str]

# Keys whose string values are masked in a webhook payload until a reveal: who someone is
# (names, numbers, addresses) and what they wrote (a WhatsApp message's body or caption).
_PERSONAL_KEYS = ("name", "phone", "email", "msisdn", "address", "birth", "national",
                  "passport", "account_reference", "customer", "wa_id", "from", "to",
                  "body", "caption", "message", "content", "profile")


@dataclass(frozen=True)
class MessagePage:
    items: list[LoggedMessage]
    next_cursor: str | None


@dataclass(frozen=True)
class MessageView:
    """What the console shows of one message."""

    entry: LoggedMessage
    revealed: bool
    segments: list[Hl7Segment]  # HL7 messages, else empty
    text: str  # the message as text (masked unless revealed); a webhook's JSON payload
    became: dict[str, Any]  # lab result id, patient link, observations; the webhook's fate
    answer: str  # the ACK or HTTP answer the sender got
    patient_id: str | None


class MessageLog:
    def __init__(self, store: MessageLogStore, audit: AuditTrail, clock: Clock,
                 ack: AckWriter) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self._ack = ack

    async def search(self, caller: Caller, query: MessageQuery) -> MessagePage:
        await self._require_role(caller, None)
        limit = max(1, min(query.limit, MAX_PAGE))
        rows = await self._store.page(replace(query, limit=limit))
        more = len(rows) > limit
        items = rows[:limit]
        return MessagePage(items, items[-1].cursor.encode() if more and items else None)

    async def open(self, caller: Caller, message_id: str, *, reveal: bool = False
                   ) -> MessageView:
        await self._require_role(caller, message_id)
        stored = await self._store.find(message_id)
        if stored is None:
            raise NotFound(f"no inbound message {message_id}", reason_code="messages.not_found",
                           params={"id": message_id})
        view = self._view(stored, reveal=reveal)
        who = replace(caller, purpose=REVEAL_PURPOSE) if reveal else caller
        patients: list[str | None] = [
            p for p in (view.patient_id, *stored.review_candidates) if p] or [None]
        await self._audit.record(audit_records(
            who, action=AuditAction.READ, resource_type=RESOURCE,
            targets=[(message_id, p) for p in dict.fromkeys(patients)],
            outcome=AuditOutcome.SUCCESS, at=self._clock.now()))
        return view

    def _view(self, stored: StoredMessage, *, reveal: bool) -> MessageView:
        entry = stored.entry
        if stored.refused is not None:
            return _refused_view(stored.refused, reveal=reveal)
        if stored.webhook is not None:
            hook = stored.webhook
            payload = hook.payload if reveal else _masked(hook.payload)
            return MessageView(
                entry, reveal, [], json.dumps(payload, indent=2, sort_keys=True, default=str),
                {"event_type": hook.event_type, "status": entry.status,
                 "attempts": hook.attempts, "last_error": hook.last_error,
                 "processed_at": hook.processed_at, "subject_id": hook.subject_id},
                "HTTP 200: signature verified, event stored for processing", None)
        parts = segments(stored.raw, reveal=reveal)
        if stored.conflict is not None:
            error = (f"control id {entry.control_id!r} was already used for a different "
                     "message")
            return MessageView(
                entry, reveal, parts, as_text(parts),
                {"stored": False, "first_lab_result_id": stored.conflict.first_result_id},
                f"HTTP 409 control_id_reused: {error} (over MLLP: an AE, or CE, ACK with "
                "ERR code 205)", None)
        result = stored.lab_result
        assert result is not None  # a StoredMessage holds exactly one kind
        became = {"lab_result_id": result.id, "status": result.status,
                  "patient_id": result.patient_id, "match_grade": result.match_grade,
                  "match_score": round(result.match_score, 3),
                  "observations_created": result.observations_created,
                  "critical_count": result.critical_count,
                  "observation_ids": list(result.observation_ids),
                  "report_ids": list(result.report_ids),
                  "review_candidates": list(stored.review_candidates)}
        answer = (self._ack(stored.raw) if entry.channel == "hl7-mllp" else
                  "GraphQL IngestResult" if entry.channel == "hl7-graphql" else
                  "HTTP 200: stored")
        return MessageView(entry, reveal, parts, as_text(parts), became, answer,
                           result.patient_id)

    async def _require_role(self, caller: Caller, message_id: str | None) -> None:
        """The role rule; a refusal is recorded (who tried to read the log) before it is raised."""
        try:
            require_role(caller, *ROLES)
        except Forbidden:
            await self._audit.record(audit_records(
                caller, action=AuditAction.READ, resource_type=RESOURCE,
                targets=[(message_id, None)], outcome=AuditOutcome.DENIED,
                at=self._clock.now()))
            raise


def _refused_view(refused: RefusedMessage, *, reveal: bool) -> MessageView:
    """A message refused before storage: its kept body (HL7 segments masked like a stored
    message's; a webhook's unauthenticated prefix hidden whole until a reveal), why, and the
    answer the sender got."""
    entry = refused.entry()
    became = {"stored": False, "reason": refused.reason, "size": refused.size,
              "kept_bytes": len(refused.body.encode("utf-8")),
              "body_truncated": refused.body_truncated, "sha256": refused.sha256}
    answer = f"{refused.answer}: {refused.reason}"
    if refused.channel.startswith(WEBHOOK_PREFIX):
        text = refused.body if reveal else HIDDEN_PREFIX.format(n=len(refused.body))
        return MessageView(entry, reveal, [], text, became, answer, None)
    parts = segments(refused.body, reveal=reveal)
    return MessageView(entry, reveal, parts, as_text(parts), became, answer, None)


def _masked(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key) for v in value]
    if isinstance(value, str) and any(p in key.lower() for p in _PERSONAL_KEYS):
        return mask(value)
    return value


__all__ = ["MessageCursor", "MessageLog", "MessagePage", "MessageQuery", "MessageView"]
