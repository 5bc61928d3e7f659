"""FhirCreations over the in-memory unit of work: creates that share a transaction are each
stored with their audit and outbox rows, and one that fails fails only its own caller."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.memory.store import InMemoryUnitOfWork, MemoryState
from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import audit_records
from resolvers.fhir.creations import FhirCreations
from resolvers.fhir.writer import MirrorConfig, first_version
from resolvers.principal import Caller, Principal

NOW = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)


class _RefusingUnitOfWork(InMemoryUnitOfWork):
    """Fails any transaction that holds the resource ``refused`` (a bad row, say)."""

    refused = "bad"

    async def __aenter__(self) -> _RefusingUnitOfWork:
        await super().__aenter__()
        create_many = self.fhir.create_many

        async def refusing(items: Sequence[Any]) -> None:
            if any(stored.id == self.refused for stored, _i, _s in items):
                raise RuntimeError("the database refused the row")
            await create_many(items)

        self.fhir.create_many = refusing  # type: ignore[method-assign]
        return self


def _doc(n: int) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "code": {"text": f"result {n}"}, "subject": {"reference": "Patient/p1"}}


async def test_creates_together_are_stored_and_one_bad_create_fails_alone() -> None:
    state = MemoryState()
    creations = FhirCreations(lambda: _RefusingUnitOfWork(state, lambda: NOW),
                              MirrorConfig(destinations=("medplum",)))
    caller = Caller(Principal("c", frozenset({"clinician"})), request_id="r1")
    ids = ["o1", "o2", "bad", "o3"]
    stored = [first_version(_doc(n), rid, NOW) for n, rid in enumerate(ids)]
    outcomes = await asyncio.gather(*(creations.register(s, audit_records(
        caller, action=AuditAction.CREATE, resource_type="Observation",
        targets=[(s.id, "p1")], outcome=AuditOutcome.SUCCESS, at=NOW)) for s in stored),
        return_exceptions=True)
    assert [isinstance(o, RuntimeError) for o in outcomes] == [False, False, True, False]
    kept = {rid for rid in ids if rid != "bad"}
    async with InMemoryUnitOfWork(state, lambda: NOW) as uow:
        found = await uow.fhir.get_many("Observation", ids)
    assert set(found) == kept
    assert {r.resource_id for r in state.audit} == kept
    assert {m.idempotency_key for m in state.outbox.values()
            if m.destination == "medplum"} == {f"fhir:Observation/{rid}/_history/1"
                                               for rid in kept}


async def test_only_new_resources_of_types_without_a_twin_are_taken() -> None:
    creations = FhirCreations(lambda: InMemoryUnitOfWork(MemoryState(), lambda: NOW),
                              MirrorConfig())
    patient = first_version({"resourceType": "Patient"}, "p1", NOW)
    with pytest.raises(ValueError, match="Patient"):
        await creations.register(patient, [])
