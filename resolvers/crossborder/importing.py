"""$import: link a patient found in a national HIE into the local MPI.

The record is looked up like any cross-border lookup (one country, audited), then goes
through the MPI rules: a local patient already carrying the national identifier is the
match; else the MPI matcher grades the HIE's demographics (with the national identifier
trusted) and a *certain* match is linked by adding the national identifier to it; else a new
patient is registered with the national identifier and the HIE's demographics. The local
patient then carries ``system = the country's national-id system, value = national id``, so
a lab result naming that identifier in PID-3 matches it. Registration and update are the MPI
use cases (validation, duplicates, audit, events); the link itself is audited too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.crossborder.lookup import AUDIT_TYPE, CrossBorderLookup
from resolvers.fhir.errors import problem
from resolvers.mpi.fhir_mapping import draft_from_fhir
from resolvers.mpi.matching import MatchCandidate, MatchGrade, PatientMatcher
from resolvers.mpi.model import Identifier, Patient, PatientDraft, PatientQuery
from resolvers.mpi.patients import WRITE_ROLES, PatientUseCases
from resolvers.principal import Caller, require_role


@dataclass(frozen=True)
class ImportResult:
    patient: Patient
    outcome: str  # "created" | "matched" | "linked" (a certain match given the identifier)
    country: str
    source: str  # the HIE's FHIR base
    remote_id: str | None  # the HIE's Patient id


class CrossBorderImport:
    def __init__(self, lookup: CrossBorderLookup, patients: PatientUseCases,
                 matcher: PatientMatcher, audit: AuditTrail,
                 now: Callable[[], datetime]) -> None:
        self._lookup = lookup
        self._patients = patients
        self._matcher = matcher
        self._audit = audit
        self._now = now

    async def import_patient(self, caller: Caller, national_id: str, country: str | None, *,
                             purpose: str | None = None) -> ImportResult:
        require_role(caller, *WRITE_ROLES)
        if not country or "," in country or country.strip().upper() == "ALL":
            raise problem(400, "value", "give exactly one country: one of "
                          f"{', '.join(self._lookup.supported)}", "country")
        # An unknown country is refused (and audited) by the lookup.
        result = await self._lookup.lookup(caller, national_id, countries=country,
                                           purpose=purpose)
        profile = self._lookup.profile(result.countries[0])
        assert profile is not None  # the lookup knows it
        found = result.patients
        if not found:
            raise problem(404, "not-found", f"{profile.code}'s HIE has no patient with that "
                          "national id")
        if len(found) > 1:
            raise problem(409, "multiple-matches", f"{profile.code}'s HIE holds {len(found)} "
                          "records for that national id; resolve them there first")
        outcome, resource = found[0]
        national = Identifier(profile.identifier_system, result.national_id)
        draft = replace(draft_from_fhir(resource), identifiers=(national,), organization_id=None)
        patient, how = await self._link(caller, national, draft)
        await self._audit.record(audit_records(
            replace(caller, purpose=result.purpose), action=AuditAction.EXECUTE,
            resource_type=AUDIT_TYPE, targets=[(f"{profile.code}|{result.national_id}",
                                                patient.id)],
            outcome=AuditOutcome.SUCCESS, at=self._now()))
        remote = resource.get("id")
        return ImportResult(patient=patient, outcome=how, country=profile.code,
                            source=outcome.source,
                            remote_id=remote if isinstance(remote, str) else None)

    async def _link(self, caller: Caller, national: Identifier,
                    draft: PatientDraft) -> tuple[Patient, str]:
        known = await self._patients.search(caller, PatientQuery(identifier=national, limit=2))
        if known:
            return known[0], "matched"
        candidate = MatchCandidate(
            identifiers=draft.identifiers, family=draft.family, given=draft.given,
            birth_date=draft.birth_date, gender=draft.gender, phone=draft.phone,
            trusted_identifier_systems=frozenset({national.system}))
        matches = await self._matcher.match(candidate, limit=2)
        if matches and matches[0].grade is MatchGrade.CERTAIN and (
                len(matches) == 1 or matches[1].grade is not MatchGrade.CERTAIN):
            local = await self._patients.get(caller, matches[0].patient_id)
            linked = await self._patients.update(
                caller, local.id, _with_identifier(local, national),
                expected_version=local.version)
            return linked, "linked"
        return await self._patients.create(caller, draft), "created"


def _with_identifier(local: Patient, national: Identifier) -> PatientDraft:
    values: dict[str, Any] = {
        "identifiers": (*local.identifiers, national), "family": local.family,
        "given": local.given, "birth_date": local.birth_date, "gender": local.gender,
        "phone": local.phone, "organization_id": local.organization_id}
    return PatientDraft(**values)
