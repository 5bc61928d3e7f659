"""CDS Hooks feedback: ``{"feedback": [...]}`` about cards this service issued.

Each entry names a card by uuid (it must be one the service issued, unexpired), an outcome
(``accepted`` with ``acceptedSuggestions`` naming that card's suggestions, or
``overridden``, optionally with an ``overrideReason`` whose ``reason`` is one of the card's
override reasons) and an RFC 3339 ``outcomeTimestamp``. All entries are checked first, then
stored in one transaction and audited (action create, resource ``CdsFeedback/<card>``,
naming the card's patient): a body with one bad entry stores nothing. A caller without the
role (denied) and feedback about an unknown card (not found) are audited too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.cds.hooks.catalog import HOOKS_OF
from resolvers.cds.hooks.invoke import CALLER_ROLES
from resolvers.cds.hooks.model import (
    BadHookRequest,
    FeedbackEntry,
    IssuedCard,
    UnknownCard,
    UnknownService,
)
from resolvers.cds.hooks.ports import CdsStore
from resolvers.errors import Forbidden
from resolvers.ids import new_id
from resolvers.principal import Caller, require_role

MAX_ENTRIES = 100
OUTCOMES = ("accepted", "overridden")


def _timestamp(raw: Any, where: str) -> datetime:
    if not isinstance(raw, str):
        raise BadHookRequest(where, "is required: an RFC 3339 date-time")
    try:
        found = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadHookRequest(where, "must be an RFC 3339 date-time") from None
    if found.tzinfo is None:
        raise BadHookRequest(where, "must carry a time zone (UTC: Z)")
    return found


def _accepted(entry: Mapping[str, Any], card: IssuedCard, where: str) -> tuple[str, ...]:
    accepted = entry.get("acceptedSuggestions")
    if not isinstance(accepted, list) or not accepted:
        raise BadHookRequest(f"{where}.acceptedSuggestions", "is required when the outcome "
                             "is accepted: [{\"id\": <suggestion uuid>}]")
    ids = []
    for n, item in enumerate(accepted):
        sid = item.get("id") if isinstance(item, dict) else None
        if not isinstance(sid, str) or sid not in card.suggestions:
            raise BadHookRequest(f"{where}.acceptedSuggestions[{n}].id",
                                 "is not a suggestion of that card")
        ids.append(sid)
    return tuple(ids)


def _override(entry: Mapping[str, Any], card: IssuedCard,
              where: str) -> dict[str, Any] | None:
    found = entry.get("overrideReason")
    if found is None:
        return None
    if not isinstance(found, dict):
        raise BadHookRequest(f"{where}.overrideReason", "must be an object")
    reason = found.get("reason")
    comment = found.get("userComment")
    if comment is not None and not isinstance(comment, str):
        raise BadHookRequest(f"{where}.overrideReason.userComment", "must be a string")
    kept: dict[str, Any] = {}
    if reason is not None:
        if not isinstance(reason, dict) or (reason.get("system"), reason.get(
                "code")) not in card.override_reasons:
            raise BadHookRequest(f"{where}.overrideReason.reason",
                                 "is not one of that card's overrideReasons")
        kept["reason"] = {k: reason[k] for k in ("system", "code", "display") if k in reason}
    if comment:
        kept["userComment"] = comment[:2000]
    return kept or None


class CdsFeedback:
    def __init__(self, store: CdsStore, audit: AuditTrail, now: Callable[[], datetime],
                 settled: Callable[[], Awaitable[None]]) -> None:
        self._store = store
        self._audit = audit
        self._now = now
        self._settled = settled  # the card writes of earlier answers, still in flight

    async def receive(self, caller: Caller, service_id: str, body: Any) -> int:
        """Check and keep the feedback; the number of entries kept."""
        if service_id not in HOOKS_OF:
            raise UnknownService(f"no CDS service {service_id!r}; GET /cds-services lists them")
        try:
            require_role(caller, *CALLER_ROLES)
        except Forbidden:
            await self._record(caller, [(None, None)], AuditOutcome.DENIED)
            raise
        entries = body.get("feedback") if isinstance(body, dict) else None
        if not isinstance(entries, list) or not entries:
            raise BadHookRequest("feedback", "is required: a non-empty array of entries")
        if len(entries) > MAX_ENTRIES:
            raise BadHookRequest("feedback", f"at most {MAX_ENTRIES} entries per call")
        await self._settled()
        now = self._now()
        uuids = [e.get("card") if isinstance(e, dict) else None for e in entries]
        known = await self._store.find_cards([u for u in uuids if isinstance(u, str)], now)
        try:
            kept = [self._entry(caller, service_id, entry, known, f"feedback[{n}]", now)
                    for n, entry in enumerate(entries)]
        except UnknownCard as exc:
            await self._record(caller, [(exc.card, None)], AuditOutcome.NOT_FOUND)
            raise
        await self._store.save_feedback(kept)
        await self._record(caller, [(e.card_uuid, e.patient_id) for e in kept],
                           AuditOutcome.SUCCESS)
        return len(kept)

    async def _record(self, caller: Caller, targets: list[tuple[str | None, str | None]],
                      outcome: AuditOutcome) -> None:
        await self._audit.record(audit_records(
            caller, action=AuditAction.CREATE, resource_type="CdsFeedback", targets=targets,
            outcome=outcome, at=self._now()))

    @staticmethod
    def _entry(caller: Caller, service_id: str, entry: Any, known: Mapping[str, IssuedCard],
               where: str, now: datetime) -> FeedbackEntry:
        if not isinstance(entry, dict):
            raise BadHookRequest(where, "must be an object")
        uuid = entry.get("card")
        if not isinstance(uuid, str) or not uuid:
            raise BadHookRequest(f"{where}.card", "is required: the card's uuid")
        card = known.get(uuid)
        if card is None or card.service_id != service_id:
            raise UnknownCard(f"{where}.card", f"{service_id} issued no card {uuid!r} (or "
                              "its record has expired)", uuid[:36])
        outcome = entry.get("outcome")
        if outcome not in OUTCOMES:
            raise BadHookRequest(f"{where}.outcome", "must be accepted or overridden")
        accepted = _accepted(entry, card, where) if outcome == "accepted" else None
        override = _override(entry, card, where) if outcome == "overridden" else None
        return FeedbackEntry(
            id=new_id(), card_uuid=uuid, service_id=service_id, patient_id=card.patient_id,
            outcome=outcome, accepted_suggestions=accepted, override_reason=override,
            outcome_timestamp=_timestamp(entry.get("outcomeTimestamp"),
                                         f"{where}.outcomeTimestamp"),
            received_by=caller.principal.subject, received_at=now)
