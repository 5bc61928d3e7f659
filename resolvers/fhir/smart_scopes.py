"""SMART scopes on the FHIR store: what a SMART app's access token may do.

Only tokens with a SMART context (``Principal.smart``) are judged here; the platform's own
tokens are left exactly as they were. A token may do an interaction (c create, r read and
history, u update, d delete, s search) on a type when one of its resource scopes allows it;
a ``patient/`` scope further confines it to its patient's compartment (resources whose
patient is that patient), a ``?category=`` scope to resources of that category. A violation
answers 403 and is audited as denied, naming the patient and (through the trail) the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.clock import Clock
from resolvers.fhir.errors import FhirProblem, problem
from resolvers.fhir.model import Condition, SearchPage, SearchRequest
from resolvers.fhir.ports import FhirUnitOfWorkFactory
from resolvers.fhir.search import parse_search
from resolvers.fhir.search_params import patient_of
from resolvers.principal import Caller
from resolvers.smart.scopes import ScopeRule, category_matches, permitting, resource_rules

WHAT = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}


class SmartDenied(Exception):
    """A denial found inside a transaction: audited once the transaction is rolled back."""

    def __init__(self, action: AuditAction, resource_type: str, resource_id: str | None,
                 patient: str | None, problem: FhirProblem) -> None:
        super().__init__(resource_type)
        self.action = action
        self.resource_type = resource_type
        self.resource_id = resource_id
        self.patient = patient
        self.problem = problem


def _refusal(letter: str, resource_type: str, why: str = "") -> FhirProblem:
    return problem(403, "forbidden", f"the token's SMART scopes do not allow {WHAT[letter]} of "
                   f"{resource_type}{why}")


def fits(rule: ScopeRule, caller: Caller, document: dict[str, Any]) -> bool:
    smart = caller.principal.smart
    if rule.level == "patient" and (smart is None or not smart.patient
                                    or patient_of(document) != smart.patient):
        return False
    return category_matches(rule, document)


class SmartScopes:
    def __init__(self, clock: Clock, audit: AuditTrail, reads: FhirUnitOfWorkFactory) -> None:
        self._clock = clock
        self._audit = audit
        self._reads = reads

    @staticmethod
    def applies(caller: Caller) -> bool:
        return caller.principal.smart is not None

    def rules(self, caller: Caller, resource_type: str, letter: str) -> list[ScopeRule]:
        return permitting(resource_rules(caller.principal.scopes), resource_type, letter)

    async def deny(self, caller: Caller, action: AuditAction, resource_type: str,
                   resource_id: str | None, patient: str | None,
                   refusal: FhirProblem) -> FhirProblem:
        await self._audit.record(audit_records(
            caller, action=action, resource_type=resource_type,
            targets=[(resource_id, patient)], outcome=AuditOutcome.DENIED,
            at=self._clock.now()))
        return refusal

    def refused(self, caller: Caller, letter: str, resource_type: str,
                documents: Sequence[dict[str, Any]]) -> tuple[FhirProblem, str | None] | None:
        """Why the token may not do this to these documents (and whose they are), or None."""
        if not self.applies(caller):
            return None
        rules = self.rules(caller, resource_type, letter)
        if not rules:
            return _refusal(letter, resource_type), None
        for doc in documents:
            if doc and not any(fits(r, caller, doc) for r in rules):
                return _refusal(letter, resource_type, " outside the token's patient or "
                                "category"), patient_of(doc)
        return None

    async def check(self, caller: Caller, action: AuditAction, letter: str,
                    resource_type: str, resource_id: str | None = None,
                    documents: Sequence[dict[str, Any] | None] = ()) -> None:
        """Raise the 403 (audited) when the token's scopes do not allow this."""
        found = self.refused(caller, letter, resource_type, [d for d in documents if d])
        if found is not None:
            refusal, patient = found
            raise await self.deny(caller, action, resource_type, resource_id, patient, refusal)

    async def check_stored(self, caller: Caller, action: AuditAction, letter: str,
                           resource_type: str, resource_id: str,
                           written: dict[str, Any] | None = None) -> None:
        """An update or delete: the stored resource (and what is written) must be allowed;
        read before the write's transaction opens, so a denial is audited outside it."""
        if not self.applies(caller):
            return
        async with self._reads() as reads:
            before = (await reads.fhir.get_many(resource_type, [resource_id])).get(resource_id)
        await self.check(caller, action, letter, resource_type, resource_id,
                         [written, before.document if before else None])

    async def check_validate(self, caller: Caller, resource_type: str | None,
                             body: Any) -> None:
        """$validate: a scope that may create or update the type."""
        if not self.applies(caller):
            return
        named = resource_type or (body.get("resourceType") if isinstance(body, dict) else None)
        if not isinstance(named, str) or not (self.rules(caller, named, "c")
                                              or self.rules(caller, named, "u")):
            raise await self.deny(caller, AuditAction.EXECUTE, str(named or "Resource"), None,
                                  None, problem(403, "forbidden", "the token's SMART scopes "
                                                f"do not allow writing {named}"))

    async def confine_search(self, caller: Caller, request: SearchRequest) -> SearchRequest:
        """A search by a token whose only allowing scopes are patient/ ones gets its
        patient's condition; category-restricted scopes their category. The page is then
        filtered by :meth:`filter_page` for what conditions cannot say."""
        if not self.applies(caller):
            return request
        rules = self.rules(caller, request.resource_type, "s")
        if not rules:
            raise await self.deny(caller, AuditAction.READ, request.resource_type, None, None,
                                  _refusal("s", request.resource_type))
        extra: list[Condition] = []
        smart = caller.principal.smart
        assert smart is not None
        if all(r.level == "patient" for r in rules):
            if not smart.patient:
                raise await self.deny(caller, AuditAction.READ, request.resource_type, None,
                                      None, _refusal("s", request.resource_type,
                                                     ": the token has no patient"))
            pair = (("_id", smart.patient) if request.resource_type == "Patient"
                    else ("patient", f"Patient/{smart.patient}"))
            try:
                extra += parse_search(request.resource_type, [pair], strict=True).conditions
            except FhirProblem:
                raise await self.deny(caller, AuditAction.READ, request.resource_type, None,
                                      smart.patient, _refusal(
                                          "s", request.resource_type, ": not patient data"
                                      )) from None
        if all(r.category is not None for r in rules):
            codes = sorted({f"{c[0]}|{c[1]}" if c[0] else c[1] for r in rules
                            if (c := r.category) is not None})
            extra += parse_search(request.resource_type,
                                  [("category", ",".join(codes))], strict=True).conditions
        return replace(request, conditions=(*request.conditions, *extra)) if extra else request

    def filter_page(self, caller: Caller, resource_type: str, page: SearchPage) -> SearchPage:
        """Drop what no scope allows (mixed patient/user or category scopes)."""
        if not self.applies(caller):
            return page
        rules = self.rules(caller, resource_type, "s")
        if all(r.level != "patient" and r.category is None for r in rules):
            return page
        kept = [r for r in page.resources if any(fits(rule, caller, r.document)
                                                 for rule in rules)]
        if len(kept) == len(page.resources):
            return page
        return SearchPage(kept, page.total - (len(page.resources) - len(kept)))
