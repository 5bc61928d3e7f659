"""Patient use cases on the in-memory unit of work: rules, audit, outbox, roles."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.memory.store import InMemoryUnitOfWork, MemoryState
from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail
from resolvers.clock import SystemClock
from resolvers.errors import Conflict, Forbidden, InvalidInput, NotFound
from resolvers.mpi.model import Identifier, PatientDraft, PatientQuery
from resolvers.mpi.patients import PatientUseCases
from resolvers.outbox.events import EventRouter
from resolvers.principal import Caller, Principal

NID = Identifier("urn:ke:nid", "12345678")


def _caller(*roles: str, sub: str = "u1") -> Caller:
    return Caller(Principal(sub, frozenset(roles)), request_id="req-1", surface="test")


@pytest.fixture
def state() -> MemoryState:
    return MemoryState()


@pytest.fixture
def patients(state: MemoryState) -> PatientUseCases:
    clock = SystemClock()

    def uow() -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(state, clock.now)

    return PatientUseCases(uow, clock, AuditTrail(uow), EventRouter({"mirror": ["*"]}))


async def test_create_audits_and_enqueues_in_the_same_commit(patients, state) -> None:
    p = await patients.create(_caller("clinician"), PatientDraft(identifiers=(NID,), family="Okafor"))
    assert state.patients[p.id].family == "Okafor"
    (record,) = state.audit
    assert (record.action, record.patient_id, record.outcome, record.subject, record.request_id) == (
        AuditAction.CREATE, p.id, AuditOutcome.SUCCESS, "u1", "req-1")
    message, event = sorted(state.outbox.values(), key=lambda m: m.destination != "mirror")
    assert message.destination == "mirror" and message.payload["type"] == "patient.created"
    assert message.idempotency_key == f"patient.created:{p.id}:1"
    # ... and the FHIR twin's webhook event, in the same commit.
    assert event.destination == "webhook_fanout"
    assert event.payload["type"] == "fhir.resource.created"
    assert event.payload["data"]["resource_id"] == p.id


async def test_invalid_patient_stores_nothing_and_lists_every_problem(patients, state) -> None:
    draft = PatientDraft(identifiers=(Identifier("", "x"),), family=" ", gender="robot",
                         birth_date=date(2999, 1, 1), phone="call me")
    with pytest.raises(InvalidInput) as info:
        await patients.create(_caller("clinician"), draft)
    fields = {d["field"] for d in info.value.details}
    assert fields == {"identifiers[0]", "family", "gender", "birth_date", "phone"}
    assert not state.patients and not state.outbox


async def test_duplicate_identifier_conflicts(patients) -> None:
    await patients.create(_caller("clinician"), PatientDraft(identifiers=(NID,)))
    with pytest.raises(Conflict):
        await patients.create(_caller("clinician"), PatientDraft(identifiers=(NID,)))


async def test_reads_are_audited_per_patient_including_not_found(patients, state) -> None:
    p = await patients.create(_caller("clinician"), PatientDraft(identifiers=(NID,)))
    state.audit.clear()
    found = await patients.get_many(_caller("lab", sub="lab1"), [p.id, "missing"])
    assert list(found) == [p.id]
    outcomes = {(r.resource_id, r.outcome) for r in state.audit}
    assert outcomes == {(p.id, AuditOutcome.SUCCESS), ("missing", AuditOutcome.NOT_FOUND)}
    with pytest.raises(NotFound):
        await patients.get(_caller("lab"), "missing")


async def test_denied_access_is_refused_and_audited(patients, state) -> None:
    with pytest.raises(Forbidden):
        await patients.get_many(_caller(), ["p1"])  # no role at all
    with pytest.raises(Forbidden):
        await patients.create(_caller("billing"), PatientDraft(identifiers=(NID,)))
    assert [r.outcome for r in state.audit] == [AuditOutcome.DENIED, AuditOutcome.DENIED]
    assert not state.patients


async def test_update_bumps_version_and_checks_expected_version(patients, state) -> None:
    p = await patients.create(_caller("clinician"), PatientDraft(identifiers=(NID,), family="A"))
    updated = await patients.update(_caller("clinician"), p.id,
                                    PatientDraft(identifiers=(NID,), family="B"), expected_version=1)
    assert updated.version == 2 and updated.family == "B"
    with pytest.raises(Conflict, match="version"):
        await patients.update(_caller("clinician"), p.id, PatientDraft(family="C"),
                              expected_version=1)
    assert {m.idempotency_key for m in state.outbox.values() if m.destination == "mirror"} == {
        f"patient.created:{p.id}:1", f"patient.updated:{p.id}:2"}


async def test_search_pages_by_cursor(patients) -> None:
    created = [await patients.create(_caller("clinician"), PatientDraft(family=f"F{i}"))
               for i in range(5)]
    first = await patients.search(_caller("clinician"), PatientQuery(limit=2))
    rest = await patients.search(_caller("clinician"), PatientQuery(limit=10, after=first[-1].id))
    assert [p.id for p in first + rest] == [p.id for p in created]


async def test_admin_may_do_everything(patients) -> None:
    p = await patients.create(_caller("admin"), PatientDraft(family="Admin"))
    assert (await patients.get(_caller("admin"), p.id)).family == "Admin"
