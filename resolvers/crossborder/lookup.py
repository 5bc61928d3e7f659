"""The cross-border patient lookup: ask one or several national HIEs for a national id.

Several countries are asked at once (asyncio), each within its own timeout and behind its
own circuit breaker, so the lookup lasts as long as the slowest HIE that answers in time,
not the sum. Every Patient an HIE answers is validated as FHIR R4; an invalid one is dropped
with a warning and never passed on. Every lookup is audited: the caller, the purpose of
use, each country asked and its outcome, with the national id as the audit's patient.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome, AuditRecord
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.crossborder.breaker import CircuitBreakers
from resolvers.crossborder.cache import AnswerCache
from resolvers.crossborder.model import (
    CountryOutcome,
    CountryProfile,
    EndpointRefused,
    FailureKind,
    HieCircuit,
    HieFailure,
    LookupResult,
    OutcomeStatus,
)
from resolvers.crossborder.ports import EndpointGuard, HieClient
from resolvers.fhir.errors import FhirProblem, problem
from resolvers.fhir.issues import Issue, is_error
from resolvers.fhir.ports import ResourceValidator
from resolvers.principal import Caller, Role, require_role

READ_ROLES = (Role.CLINICIAN, Role.INTEGRATOR)
AUDIT_TYPE = "CrossBorderPatient"  # the audit's resource type; resource id "CC|national id"
DEFAULT_PURPOSE = "TREAT"  # HL7 v3 PurposeOfUse: treatment
MAX_NATIONAL_ID = 64
SANDBOX = "sandbox"  # the audit's country for a caller-supplied endpoint


def _outcome_of(outcome: CountryOutcome) -> AuditOutcome:
    return {OutcomeStatus.FOUND: AuditOutcome.SUCCESS,
            OutcomeStatus.NOT_FOUND: AuditOutcome.NOT_FOUND}.get(outcome.status,
                                                                 AuditOutcome.FAILURE)


class CrossBorderLookup:
    def __init__(self, profiles: Mapping[str, CountryProfile], client: HieClient,
                 guard: EndpointGuard, validator: ResourceValidator, audit: AuditTrail,
                 now: Callable[[], datetime], *, breakers: CircuitBreakers | None = None,
                 cache: AnswerCache | None = None) -> None:
        self._profiles = dict(profiles)
        self._client = client
        self._guard = guard
        self._validator = validator
        self._audit = audit
        self._now = now
        self._breakers = breakers or CircuitBreakers(time.monotonic)
        self._cache = cache or AnswerCache(0, time.monotonic)
        self._last_success: dict[str, datetime] = {}  # HIE base URL -> last answer (this process)

    @property
    def supported(self) -> tuple[str, ...]:
        return tuple(self._profiles)

    def circuits(self) -> list[HieCircuit]:
        """Each HIE's circuit breaker and last answer, as this process saw them."""
        found = []
        for profile in self._profiles.values():
            state, failures = self._breakers.state(profile.base_url)
            found.append(HieCircuit(profile.code, profile.name, profile.base_url, state, failures,
                                    self._last_success.get(profile.base_url),
                                    profile.client_cert))
        return found

    def profile(self, code: str) -> CountryProfile | None:
        return self._profiles.get(code.upper())

    # ------------------------------------------------------------------ the use case

    async def lookup(self, caller: Caller, national_id: str, *, countries: str | None = None,
                     endpoint: str | None = None, system: str | None = None,
                     purpose: str | None = None, strict: bool = True) -> LookupResult:
        """Ask the HIEs of ``countries`` ("KE", "KE,UG,TZ" or "ALL"), or the sandbox
        ``endpoint`` (which the outbound allow-list must admit), for ``national_id``.

        A single HIE that fails is a :class:`FhirProblem` (502, or 504 when it was too
        slow) when ``strict`` (REST); of several, or when not ``strict`` (GraphQL's typed
        outcomes), the failed ones are outcomes and the others still answer. A refused
        request (unknown country, endpoint off the allow-list) is always a FhirProblem."""
        require_role(caller, *READ_ROLES)
        caller = replace(caller, purpose=(purpose or caller.purpose or DEFAULT_PURPOSE)[:200])
        national_id = national_id.strip()
        try:
            profiles, fan_out = await self._profiles_for(national_id, countries, endpoint,
                                                         system)
        except FhirProblem:
            await self._record(caller, [(countries or SANDBOX, national_id,
                                         AuditOutcome.FAILURE)])
            raise
        outcomes = await asyncio.gather(*(self._cached(p, national_id, caller.purpose)
                                          for p in profiles))
        result = LookupResult(national_id=national_id,
                              countries=tuple(p.code for p in profiles), outcomes=tuple(outcomes),
                              purpose=caller.purpose, fan_out=fan_out)
        await self._record(caller, [(o.country or SANDBOX, national_id, _outcome_of(o))
                                    for o in outcomes])
        if strict and not fan_out and outcomes[0].status is OutcomeStatus.FAILED:
            failed = outcomes[0]
            kind = failed.failure or FailureKind.UPSTREAM_ERROR
            raise FhirProblem(kind.http_status, [Issue(
                "error", "timeout" if kind is FailureKind.TIMEOUT else "transient",
                f"{failed.country or failed.source}: {failed.message}")])
        return result

    async def _profiles_for(self, national_id: str, countries: str | None, endpoint: str | None,
                            system: str | None) -> tuple[list[CountryProfile], bool]:
        if not national_id or len(national_id) > MAX_NATIONAL_ID or any(
                c.isspace() or c in "|,/" for c in national_id):
            raise problem(400, "value", f"national_id must be 1 to {MAX_NATIONAL_ID} characters "
                          "without spaces, '|', ',' or '/'")
        codes = self._codes(countries)
        if endpoint:
            if len(codes) > 1:
                raise problem(400, "value", "hie_endpoint takes at most one country (whose "
                              "identifier system it uses)")
            try:
                await self._guard.admit(endpoint)
            except EndpointRefused as exc:
                raise problem(400, "security", f"hie_endpoint refused: {exc}") from None
            base = self._profiles[codes[0]] if codes else CountryProfile(
                code="", name="sandbox", base_url="", identifier_system="")
            return [replace(base, base_url=endpoint.rstrip("/"),
                            identifier_system=system if system is not None
                            else base.identifier_system)], False
        if not codes:
            raise problem(400, "required", "give country (one of "
                          f"{', '.join(self._profiles)}, several separated by commas, or ALL) "
                          "or hie_endpoint")
        return [self._profiles[c] for c in codes], len(codes) > 1 or countries == "ALL"

    def _codes(self, countries: str | None) -> list[str]:
        if not countries:
            return []
        asked = [c.strip().upper() for c in countries.split(",") if c.strip()]
        if asked == ["ALL"]:
            return list(self._profiles)
        unknown = [c for c in asked if c not in self._profiles]
        if unknown or not asked:
            shown = ", ".join(repr(c[:8]) for c in unknown[:5]) or repr(countries[:8])
            raise problem(400, "code-invalid", f"unknown country {shown}; supported: "
                          f"{', '.join(self._profiles)} (or ALL)", "country")
        return list(dict.fromkeys(asked))

    # ------------------------------------------------------------------ one HIE

    async def _cached(self, profile: CountryProfile, national_id: str,
                      purpose: str) -> CountryOutcome:
        if not self._cache.enabled:
            return await self._ask(profile, national_id)
        key = (profile.base_url, profile.identifier_system, national_id, purpose)
        known = self._cache.get(key)
        if known is not None:
            return replace(known, elapsed_ms=0.0)
        outcome = await self._ask(profile, national_id)
        if outcome.status is not OutcomeStatus.FAILED:
            self._cache.put(key, outcome)
        return outcome

    async def _ask(self, profile: CountryProfile, national_id: str) -> CountryOutcome:
        key = profile.base_url
        started = time.perf_counter()

        def failed(kind: FailureKind, message: str) -> CountryOutcome:
            return CountryOutcome(country=profile.code, source=profile.base_url,
                                  status=OutcomeStatus.FAILED, failure=kind, message=message,
                                  elapsed_ms=(time.perf_counter() - started) * 1000)

        if not self._breakers.allow(key):
            return failed(FailureKind.CIRCUIT_OPEN, "the HIE failed repeatedly; it is not "
                          "asked again until its circuit breaker resets")
        try:
            async with asyncio.timeout(profile.timeout_seconds):
                answer = await self._client.find(profile, national_id)
        except TimeoutError:
            self._breakers.failed(key)
            return failed(FailureKind.TIMEOUT,
                          f"no answer within {profile.timeout_seconds:g} s")
        except HieFailure as exc:
            self._breakers.failed(key)
            return failed(exc.kind, exc.message)
        except BaseException:
            self._breakers.failed(key)  # a cancelled trial must not keep the breaker half-open
            raise
        self._breakers.succeeded(key)
        self._last_success[key] = self._now()
        patients, dropped = self._valid_patients(answer.resources)
        return CountryOutcome(
            country=profile.code, source=profile.base_url,
            status=OutcomeStatus.FOUND if patients else OutcomeStatus.NOT_FOUND,
            patients=tuple(patients), dropped=tuple(dropped),
            elapsed_ms=(time.perf_counter() - started) * 1000)

    def _valid_patients(self, resources: Sequence[Any]) -> tuple[list[dict[str, Any]], list[str]]:
        patients: list[dict[str, Any]] = []
        dropped: list[str] = []
        for index, resource in enumerate(resources):
            if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
                kind = resource.get("resourceType") if isinstance(resource, dict) else None
                dropped.append(f"entry {index} dropped: not a Patient "
                               f"({str(kind)[:40] if kind else 'no resourceType'})")
                continue
            errors = [i for i in self._validator.validate(resource) if is_error(i)]
            if errors:
                where = ", ".join(sorted({i.expression or i.code for i in errors})[:5])
                dropped.append(f"entry {index} dropped: not a valid FHIR R4 Patient ({where})")
                continue
            patients.append(resource)
        return patients, dropped

    # ------------------------------------------------------------------ audit

    async def _record(self, caller: Caller,
                      asked: Sequence[tuple[str, str, AuditOutcome]]) -> None:
        at = self._now()
        records: list[AuditRecord] = []
        for country, national_id, outcome in asked:
            records += audit_records(caller, action=AuditAction.READ, resource_type=AUDIT_TYPE,
                                     targets=[(f"{country[:40]}|{national_id[:MAX_NATIONAL_ID]}",
                                               national_id[:MAX_NATIONAL_ID] or None)],
                                     outcome=outcome, at=at)
        await self._audit.record(records)
