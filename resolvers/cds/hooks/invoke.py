"""Calling a CDS service: validate the request, gather the patient's data, run the rules,
answer cards; record the call in the audit trail and keep the issued cards for feedback.

Who may call: clinicians (an EHR acting for the signed-in clinician), integrators (an EHR or
system with its own platform token) and CDS clients authenticated by their JWT (they act as
integrators); admin, as everywhere. Every call names its patient in an audit record (action
execute, resource ``CdsService/<id>``), refused calls included.

Issued cards are kept through a group commit (calls that arrive together share one
transaction) that the answer does not wait for: the audit record is committed before the
answer, the cards follow within milliseconds. Feedback first waits for this process's card
writes still in flight (``settled``), so it always finds the cards of an earlier answer.

The pregnancy rule costs two reads of the patient's record, so they are made only when a
medication has a pregnancy entry: the checker is asked as if the patient were pregnant, and
the pregnancy findings are kept only if the record shows a pregnancy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.cds.hooks.cards import CardContext, finding_cards
from resolvers.cds.hooks.catalog import DRUG_INTERACTION_CHECK, PREGNANCY_CODES, discovery
from resolvers.cds.hooks.lab_cards import lab_cards
from resolvers.cds.hooks.medications import draft_orders, facts_from_items
from resolvers.cds.hooks.model import (
    ORDER_SELECT,
    PATIENT_VIEW,
    CdsConfig,
    HookRequest,
    IssuedCard,
    PreconditionFailed,
)
from resolvers.cds.hooks.patient_data import PatientData
from resolvers.cds.hooks.ports import CdsStore, MedicationChecker, PregnancyEvidence
from resolvers.cds.hooks.validation import parse_hook_request
from resolvers.cds.model import FindingKind, MedicationFacts
from resolvers.errors import Forbidden
from resolvers.group_commit import GroupCommit
from resolvers.principal import Caller, Role, require_role

log = logging.getLogger("cari.cds")
CALLER_ROLES = (Role.CLINICIAN, Role.INTEGRATOR)
PURGE_EVERY = 500  # forget expired cards once every this many card writes
PREGNANCY_OBSERVATIONS = ("code", PREGNANCY_CODES)
INACTIVE = frozenset({"completed", "stopped", "cancelled", "entered-in-error", "draft",
                      "on-hold", "not-taken"})


class CdsHooks:
    def __init__(self, checker: MedicationChecker, pregnancy: PregnancyEvidence | None,
                 data: PatientData, store: CdsStore, audit: AuditTrail,
                 now: Callable[[], datetime], config: CdsConfig, *,
                 max_parallel: int = 1) -> None:
        self._checker = checker
        self._pregnancy = pregnancy
        self._data = data
        self._store = store
        self._audit = audit
        self._now = now
        self.config = config
        self._cards: GroupCommit[Sequence[IssuedCard], None] = GroupCommit(
            write=self._save_cards, conflict_keys=lambda job: frozenset(),
            max_parallel=max_parallel)
        self._in_flight: set[asyncio.Future[None]] = set()
        self._writes = 0

    @staticmethod
    def discovery() -> dict[str, Any]:
        return discovery()

    async def invoke(self, caller: Caller, service_id: str, body: Any) -> dict[str, Any]:
        request = parse_hook_request(service_id, body)
        try:
            require_role(caller, *CALLER_ROLES)
        except Forbidden:
            await self._record(caller, request, AuditOutcome.DENIED)
            raise
        try:
            cards = await self._answer(caller, request)
        except PreconditionFailed:
            await self._record(caller, request, AuditOutcome.FAILURE)
            raise
        self._keep(caller, request, cards)
        await self._record(caller, request, AuditOutcome.SUCCESS)
        return {"cards": cards}

    async def settled(self) -> None:
        """Wait for the card writes this process has in flight."""
        if self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    async def _record(self, caller: Caller, request: HookRequest,
                      outcome: AuditOutcome) -> None:
        await self._audit.record(audit_records(
            caller, action=AuditAction.EXECUTE, resource_type="CdsService",
            targets=[(request.service_id, request.patient_id)], outcome=outcome,
            at=self._now()))

    def _keep(self, caller: Caller, request: HookRequest, cards: list[dict[str, Any]]) -> None:
        if not cards:
            return
        now = self._now()
        expires = now + timedelta(seconds=self.config.card_seconds)
        write = asyncio.ensure_future(self._cards.submit(tuple(IssuedCard(
            uuid=c["uuid"], service_id=request.service_id, hook=request.hook,
            hook_instance=request.hook_instance, patient_id=request.patient_id,
            suggestions=tuple(s["uuid"] for s in c.get("suggestions", ())),
            override_reasons=tuple((r["system"], r["code"]) for r in c.get("overrideReasons",
                                                                             ())),
            issued_by=caller.principal.subject, issued_at=now, expires_at=expires)
            for c in cards)))
        self._in_flight.add(write)
        write.add_done_callback(self._written)

    def _written(self, write: asyncio.Future[None]) -> None:
        self._in_flight.discard(write)
        if not write.cancelled() and write.exception() is not None:
            log.error("issued CDS cards were not kept", exc_info=write.exception())

    async def _save_cards(self, jobs: Sequence[Sequence[IssuedCard]]) -> list[None]:
        await self._store.save_cards([card for job in jobs for card in job])
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            await self._store.purge_expired(self._now())
        return [None] * len(jobs)

    def _context(self, request: HookRequest) -> CardContext:
        return CardContext(service_id=request.service_id, hook_instance=request.hook_instance,
                           fallback_url=f"{self.config.base_url}/cds-services",
                           knowledge_version=self._checker.version)

    async def _answer(self, caller: Caller, request: HookRequest) -> list[dict[str, Any]]:
        if request.service_id == DRUG_INTERACTION_CHECK:
            return await self._drug_cards(caller, request)
        # The gateway's own store: the lab results it ingested.
        observations = await self._data.search(caller, request, "Observation",
                                               [("_sort", "-date")], own_store=True)
        return lab_cards(observations, self._context(request), self._now(),
                         self.config.lab_lookback)

    async def _drug_cards(self, caller: Caller, request: HookRequest) -> list[dict[str, Any]]:
        context = request.context
        drafts: list[MedicationFacts] = []
        if request.hook != PATIENT_VIEW:
            selections = context.get("selections") if request.hook == ORDER_SELECT else None
            drafts = draft_orders(context.get("draftOrders"), selections)
            if not any(d.draft for d in drafts):  # no medication is being ordered: no advice
                return []
        active = await self._active(caller, request)
        ordered = {d.reference for d in drafts if d.reference}
        medications = [m for m in active if m.reference not in ordered] + drafts
        if not medications:
            return []
        findings = self._checker.check(medications, pregnant=self._pregnancy is not None)
        if any(f.kind is FindingKind.PREGNANCY for f in findings) and not await \
                self._pregnant(caller, request):
            findings = [f for f in findings if f.kind is not FindingKind.PREGNANCY]
        return finding_cards(findings, self._context(request),
                             drafts_only=request.hook != PATIENT_VIEW)

    async def _active(self, caller: Caller, request: HookRequest) -> list[MedicationFacts]:
        sent = request.context.get("medications")
        if isinstance(sent, list):  # the product documentation's context.medications
            return facts_from_items(sent)
        resources = await self._data.search(caller, request, "MedicationRequest",
                                            [("status", "active")],
                                            prefetch_keys=("medications",))
        return facts_from_items(r for r in resources if r.get("status") not in INACTIVE)

    async def _pregnant(self, caller: Caller, request: HookRequest) -> bool:
        if self._pregnancy is None:
            return False
        conditions, observations = await asyncio.gather(
            self._data.search(caller, request, "Condition", [], prefetch_keys=("conditions",)),
            self._data.search(caller, request, "Observation", [PREGNANCY_OBSERVATIONS],
                              prefetch_keys=("pregnancy",)))
        return self._pregnancy([*conditions, *observations]) is not None
