"""Messaging as the REST and GraphQL surfaces offer it: send or schedule, list, read and
cancel messages; templates; consent. Role checks and an audit record for every access to a
patient's messages or consent.

Unlike the port's bulk ``schedule`` (which stores unsendable requests as suppressed), a
caller here is told at once why a message cannot go and nothing is stored: an unknown
template or wrong parameters (422), free-form text outside the 24-hour window, an opted-out
phone or a missing opt-in (409).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.errors import Conflict, DomainError, InvalidInput, NotFound
from resolvers.ids import new_id
from resolvers.messaging.errors import NotSendable, OutsideWindow
from resolvers.messaging.events import consent_event
from resolvers.messaging.model import (
    Consent,
    ConsentEvent,
    ConsentState,
    MessageKind,
    MessageQuery,
    MessageRequest,
    MessageStatus,
    Purpose,
    StoredMessage,
    Template,
    TemplateCall,
    TemplateStatus,
)
from resolvers.messaging.ports import GraphApi, MessagingStore
from resolvers.messaging.scheduler import Scheduling
from resolvers.principal import Caller, Role, require_role

MESSAGE = "WhatsAppMessage"
CONSENT = "WhatsAppConsent"
SENDERS = (Role.INTEGRATOR, Role.CLINICIAN)
TEMPLATE_ADMINS = (Role.INTEGRATOR,)
MAX_PAGE = 200
log = logging.getLogger("cari.messaging")


@dataclass(frozen=True)
class SendRequest:
    patient_id: str | None = None
    phone: str | None = None
    country: str | None = None
    template: str | None = None
    language: str | None = None
    params: tuple[str, ...] = ()
    header_params: tuple[str, ...] = ()
    button_payloads: tuple[str, ...] = ()
    text: str | None = None
    send_at: datetime | None = None
    key: str | None = None  # the caller's idempotency key


@dataclass(frozen=True)
class ConsentView:
    patient_id: str
    phone: str
    state: ConsentState | None
    history: tuple[ConsentEvent, ...]


class MessagingUseCases:
    def __init__(self, store: MessagingStore, scheduling: Scheduling, graph: GraphApi | None,
                 audit: AuditTrail, now: Callable[[], datetime]) -> None:
        self._store = store
        self._scheduling = scheduling
        self._graph = graph
        self._audit = audit
        self._now = now

    async def _record(self, caller: Caller, action: AuditAction, resource_type: str,
                      targets: Iterable[tuple[str | None, str | None]],
                      outcome: AuditOutcome = AuditOutcome.SUCCESS) -> None:
        records = audit_records(caller, action=action, resource_type=resource_type,
                                targets=list(targets), outcome=outcome, at=self._now())
        if records:
            await self._audit.record(records)

    # ------------------------------------------------------------------ messages

    async def send(self, caller: Caller, request: SendRequest) -> tuple[StoredMessage, bool]:
        """The stored message and whether it is new (False: the key was used before). A
        refusal is audited too (failure, naming the patient)."""
        require_role(caller, *SENDERS)
        try:
            return await self._send(caller, request)
        except NotFound:
            raise
        except DomainError:
            await self._record(caller, AuditAction.CREATE, MESSAGE,
                               [(None, request.patient_id)], AuditOutcome.FAILURE)
            raise

    async def _send(self, caller: Caller, request: SendRequest) -> tuple[StoredMessage, bool]:
        if (request.text is None) == (request.template is None):
            raise InvalidInput("give either template (with language and params) or text",
                               details={"field": "template"})
        if request.patient_id is None and request.phone is None:
            raise InvalidInput("give patient_id or phone", details={"field": "patient_id"})
        phone, reason = await self._scheduling.recipient(request.patient_id, request.phone,
                                                         request.country)
        if phone is None:
            if reason == "the patient does not exist":
                await self._record(caller, AuditAction.CREATE, MESSAGE,
                                   [(None, request.patient_id)], AuditOutcome.NOT_FOUND)
                raise NotFound("no patient with this id")
            raise InvalidInput(reason or "no phone number", details={"field": "phone"})
        key = f"api:{request.key}" if request.key else f"api:{new_id()}"
        send_at = request.send_at or self._now()
        if request.text is not None:
            row = self._scheduling.text_row(key=key, purpose=Purpose.CUSTOM, phone=phone,
                                            patient_id=request.patient_id, text=request.text,
                                            created_by=caller.principal.subject,
                                            send_at=send_at)
        else:
            row = await self._scheduling.prepare(MessageRequest(
                key=key, purpose=Purpose.CUSTOM, send_at=send_at,
                patient_id=request.patient_id, phone=phone,
                template=TemplateCall(name=request.template or "",
                                      language=request.language or "",
                                      body_params=request.params,
                                      header_params=request.header_params,
                                      button_payloads=request.button_payloads)),
                caller.principal.subject)
        await self._refuse_unsendable(row)
        stored = (await self._scheduling.store([row]))[0]
        await self._record(caller, AuditAction.CREATE, MESSAGE, [(stored.id, stored.patient_id)])
        return stored, stored.id == row.id

    async def _refuse_unsendable(self, row: StoredMessage) -> None:
        if row.status is MessageStatus.FAILED:
            raise InvalidInput(row.reason or "the template cannot be sent",
                               details={"field": "template"})
        if row.status is MessageStatus.SUPPRESSED:
            raise NotSendable(row.reason or "this phone cannot be messaged")
        assert row.phone is not None
        reason = await self._scheduling.unsendable(row.phone, row.patient_id,
                                                   row.requires_consent, row.purpose)
        if reason is not None:
            raise NotSendable(reason)
        if row.kind is MessageKind.TEXT and not await self._scheduling.window_open(row.phone):
            raise OutsideWindow(
                "free-form text can only be sent within 24 hours of the recipient's last "
                "message (WhatsApp's customer service window); send an approved template")

    async def _found(self, caller: Caller, message_id: str,
                     action: AuditAction) -> StoredMessage:
        found = await self._store.get(message_id)
        if found is None:
            await self._record(caller, action, MESSAGE, [(message_id, None)],
                               AuditOutcome.NOT_FOUND)
            raise NotFound("no message with this id")
        return found

    async def get(self, caller: Caller, message_id: str) -> StoredMessage:
        require_role(caller, *SENDERS)
        found = await self._found(caller, message_id, AuditAction.READ)
        await self._record(caller, AuditAction.READ, MESSAGE, [(found.id, found.patient_id)])
        return found

    async def search(self, caller: Caller, query: MessageQuery) -> list[StoredMessage]:
        require_role(caller, *SENDERS)
        found = await self._store.search(replace(query, limit=max(1, min(query.limit,
                                                                        MAX_PAGE))))
        targets: list[tuple[str | None, str | None]] = [(m.id, m.patient_id) for m in found]
        if query.patient_id is not None and not found:
            targets = [(None, query.patient_id)]  # asked about a patient: recorded anyway
        await self._record(caller, AuditAction.READ, MESSAGE, targets)
        return found

    async def cancel(self, caller: Caller, message_id: str) -> StoredMessage:
        require_role(caller, *SENDERS)
        found = await self._found(caller, message_id, AuditAction.UPDATE)
        if not await self._store.cancel(message_id=message_id, at=self._now()):
            raise Conflict(f"the message is {found.status.value}: only a scheduled message "
                           "can be cancelled")
        await self._record(caller, AuditAction.UPDATE, MESSAGE, [(found.id, found.patient_id)])
        cancelled = await self._store.get(message_id)
        assert cancelled is not None
        return cancelled

    # ------------------------------------------------------------------ templates

    async def templates(self, caller: Caller) -> list[Template]:
        require_role(caller, *SENDERS)
        return await self._store.list_templates()

    async def register_template(self, caller: Caller, template: Template) -> Template:
        """Register (or replace) a template as the business account has it. Registered by
        hand it is PENDING unless said otherwise; a sync brings Meta's status."""
        require_role(caller, *TEMPLATE_ADMINS)
        await self._store.upsert_templates([template])
        stored = await self._store.get_template(template.name, template.language)
        assert stored is not None
        return stored

    async def sync_templates(self, caller: Caller) -> list[Template]:
        require_role(caller, *TEMPLATE_ADMINS)
        if self._graph is None:
            raise Conflict("WhatsApp is not configured on this gateway (CARI_WHATSAPP_*)")
        synced = await self._graph.templates()
        await self._store.upsert_templates(synced)
        return await self._store.list_templates()

    async def sync_every(self, stop: asyncio.Event, seconds: float) -> None:
        """Sync template statuses every ``seconds`` (CARI_WHATSAPP_TEMPLATE_SYNC_SECONDS)."""
        while not stop.is_set():
            if self._graph is not None:
                try:
                    await self._store.upsert_templates(await self._graph.templates())
                except Exception:
                    log.warning("whatsapp template sync failed; will retry", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)

    # ------------------------------------------------------------------ consent

    async def _patient_phone(self, caller: Caller, patient_id: str, phone: str | None,
                             action: AuditAction) -> str:
        found, reason = await self._scheduling.recipient(patient_id, phone, None)
        if found is None:
            if reason == "the patient does not exist":
                await self._record(caller, action, CONSENT, [(None, patient_id)],
                                   AuditOutcome.NOT_FOUND)
                raise NotFound("no patient with this id")
            await self._record(caller, action, CONSENT, [(None, patient_id)],
                               AuditOutcome.FAILURE)
            raise InvalidInput(reason or "no phone number", details={"field": "phone"})
        return found

    async def consent(self, caller: Caller, patient_id: str,
                      phone: str | None = None) -> ConsentView:
        require_role(caller, *SENDERS)
        number = await self._patient_phone(caller, patient_id, phone, AuditAction.READ)
        current = await self._store.consent(number, patient_id)
        history = await self._store.consent_history(number)
        await self._record(caller, AuditAction.READ, CONSENT, [(None, patient_id)])
        return _view(patient_id, number, current, history)

    async def set_consent(self, caller: Caller, patient_id: str, state: ConsentState,
                          phone: str | None = None) -> ConsentView:
        require_role(caller, *SENDERS)
        number = await self._patient_phone(caller, patient_id, phone, AuditAction.UPDATE)
        now = self._now()
        await self._store.set_consent(number, patient_id, state, source="api",
                                      actor=caller.principal.subject, at=now,
                                      events=[consent_event([patient_id], state, "api", now)])
        await self._record(caller, AuditAction.UPDATE, CONSENT, [(None, patient_id)])
        return _view(patient_id, number, await self._store.consent(number, patient_id),
                     await self._store.consent_history(number))


def _view(patient_id: str, phone: str, current: Consent | None,
          history: list[ConsentEvent]) -> ConsentView:
    mine = tuple(e for e in history if e.patient_id in (patient_id, ""))
    return ConsentView(patient_id=patient_id, phone=phone,
                       state=current.state if current else None, history=mine)


def registered(name: str, language: str, body: str, *, header: str | None = None,
               buttons: tuple[str, ...] = (), category: str = "UTILITY",
               status: TemplateStatus = TemplateStatus.PENDING) -> Template:
    if not name or len(name) > 512 or not language or len(language) > 16:
        raise InvalidInput("a template needs a name (up to 512) and a language code",
                           details={"field": "name"})
    if not body.strip() or len(body) > 1024:
        raise InvalidInput("a template body has 1 to 1024 characters",
                           details={"field": "body"})
    return Template(name=name, language=language, status=status, category=category,
                    body=body, header=header, buttons=buttons)
