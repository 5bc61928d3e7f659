"""LabRepository: one suite, asserted identically on the in-memory twin, SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from resolvers.ids import new_id
from resolvers.labs.records import (
    DuplicateMessage,
    LabAlert,
    LabMessageConflict,
    LabResult,
    LabResultQuery,
    MpiLink,
    ReviewTask,
)
from tests.contract.conftest import Backend

pytestmark = pytest.mark.db
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _result(control_id: str, *, facility: str = "KNH-LAB", patient_id: str | None = None,
            status: str = "unmatched") -> LabResult:
    return LabResult(
        id=new_id(), sending_facility=facility, control_id=control_id, received_at=NOW,
        patient_id=patient_id, match_grade="none", match_score=0.25, encounter_id=None,
        status=status, observations_created=2, critical_count=1, report_ids=("r1",),
        observation_ids=("o1", "o2"), raw_message=f"MSH|^~\\&|LAB|{facility}|||||ORU^R01|{control_id}")


def _task(result_id: str, patient_id: str = "p1") -> ReviewTask:
    return ReviewTask(id=new_id(), lab_result_id=result_id, candidate_patient_id=patient_id,
                      grade="probable", score=0.81, field_scores={"family": 0.9, "birth_date": 1.0},
                      status="open", created_at=NOW)


def _link(result_id: str, patient_id: str) -> MpiLink:
    return MpiLink(id=new_id(), lab_result_id=result_id, patient_id=patient_id, method="auto",
                   grade="certain", score=0.99, field_scores={"identifier": 1.0},
                   review_task_id=None, created_at=NOW, created_by="system")


def _alert(result_id: str, patient_id: str | None, *, minutes: int = 0) -> LabAlert:
    return LabAlert(id=new_id(), lab_result_id=result_id, observation_id="o1",
                    patient_id=patient_id, code="2823-3", value="6.9", direction="high",
                    reason="potassium above 6.0", recipient="dr-otieno",
                    created_at=NOW + timedelta(minutes=minutes))


async def test_results_are_kept_once_per_message_and_listed_newest_first(backend: Backend) -> None:
    first, second, third = (_result("c1", patient_id="p1", status="linked"),
                            _result("c2"), _result("c1", facility="OTHER-LAB", patient_id="p1",
                                                   status="linked"))
    async with backend.new_unit_of_work() as uow:
        await uow.labs.lock_result_keys(["KNH-LAB/c1", "KNH-LAB/c2"])
        await uow.labs.add_result(first)
        await uow.labs.add_results([second, third])
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert await uow.labs.get_result(first.id) == first
        assert await uow.labs.get_result("absent") is None
        assert await uow.labs.find_message("KNH-LAB", "c1") == first
        assert await uow.labs.find_message("KNH-LAB", "c3") is None
        assert await uow.labs.find_messages([("KNH-LAB", "c2"), ("OTHER-LAB", "c1"), ("X", "c1")]
                                            ) == {("KNH-LAB", "c2"): second,
                                                  ("OTHER-LAB", "c1"): third}
        assert await uow.labs.find_messages([]) == {}
        assert await uow.labs.results(LabResultQuery()) == [third, second, first]
        assert await uow.labs.results(LabResultQuery(patient_id="p1")) == [third, first]
        assert await uow.labs.results(LabResultQuery(status="unmatched")) == [second]
        page = await uow.labs.results(LabResultQuery(limit=2))
        assert page == [third, second]
        assert await uow.labs.results(LabResultQuery(after=page[-1].id)) == [first]


@pytest.mark.parametrize("batch", [False, True], ids=["one", "many"])
async def test_a_stored_message_is_refused_as_duplicate(backend: Backend, batch: bool) -> None:
    async with backend.new_unit_of_work() as uow:
        await uow.labs.add_result(_result("c1"))
        await uow.commit()
    again = _result("c1")
    async with backend.new_unit_of_work() as uow:
        with pytest.raises(DuplicateMessage) as refused:
            if batch:
                await uow.labs.add_results([again])
            else:
                await uow.labs.add_result(again)
        assert (refused.value.sending_facility, refused.value.control_id) == ("KNH-LAB", "c1")
    async with backend.new_unit_of_work() as uow:
        assert await uow.labs.get_result(again.id) is None


async def test_update_result_is_compare_and_set_and_keeps_the_message(backend: Backend) -> None:
    held = _result("c1", status="review")
    async with backend.new_unit_of_work() as uow:
        await uow.labs.add_result(held)
        await uow.commit()
    # The message itself (sender, control id, arrival, raw text) is never rewritten.
    linked = replace(held, status="linked", patient_id="p9", match_grade="probable",
                     match_score=0.8, encounter_id="e1", observation_ids=("o3",),
                     sending_facility="ELSEWHERE", control_id="other", raw_message="changed",
                     received_at=NOW + timedelta(days=1))
    async with backend.new_unit_of_work() as uow:
        assert not await uow.labs.update_result(linked, expected_status="unmatched")
        assert await uow.labs.update_result(linked, expected_status="review")
        assert not await uow.labs.update_result(linked, expected_status="review")
        assert not await uow.labs.update_result(replace(linked, id="absent"),
                                                expected_status="linked")
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert await uow.labs.get_result(held.id) == replace(
            linked, sending_facility="KNH-LAB", control_id="c1", raw_message=held.raw_message,
            received_at=NOW)
        assert await uow.labs.find_message("KNH-LAB", "c1") is not None


async def test_review_tasks_resolve_once(backend: Backend) -> None:
    result = _result("c1", status="review")
    tasks = [_task(result.id, "p1"), _task(result.id, "p2"), _task("other-result", "p3")]
    async with backend.new_unit_of_work() as uow:
        await uow.labs.add_result(result)
        await uow.labs.add_review_tasks(tasks)
        await uow.labs.add_review_tasks([])
        await uow.commit()
    # Only the decision is written: the candidate, grade and scores stay as found.
    linked = replace(tasks[0], status="linked", resolved_at=NOW, resolved_by="nurse-a",
                     candidate_patient_id="p7", grade="certain", score=1.0, field_scores={})
    async with backend.new_unit_of_work() as uow:
        assert await uow.labs.get_task(tasks[0].id) == tasks[0]
        assert await uow.labs.get_task("absent") is None
        assert await uow.labs.tasks_for_result(result.id) == tasks[:2]
        assert await uow.labs.open_review_tasks(None, 10) == tasks
        assert await uow.labs.open_review_tasks(tasks[0].id, 1) == [tasks[1]]
        assert await uow.labs.update_task(linked, expected_status="open")
        assert not await uow.labs.update_task(replace(linked, status="rejected"),
                                              expected_status="open")
        assert not await uow.labs.update_task(replace(linked, id="absent"),
                                              expected_status="open")
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert await uow.labs.get_task(tasks[0].id) == replace(
            tasks[0], status="linked", resolved_at=NOW, resolved_by="nurse-a")
        assert await uow.labs.open_review_tasks(None, 10) == tasks[1:]


async def test_links_are_listed_newest_first_and_undone_once(backend: Backend) -> None:
    links = [_link("r1", "p1"), _link("r2", "p1"), _link("r1", "p2")]
    async with backend.new_unit_of_work() as uow:
        await uow.labs.add_links(links)
        await uow.labs.add_links([])
        await uow.commit()
    undone = replace(links[0], undone_at=NOW, undone_by="nurse-b", undo_reason="wrong twin",
                     patient_id="p5", method="review", score=0.1)
    async with backend.new_unit_of_work() as uow:
        assert await uow.labs.get_link(links[1].id) == links[1]
        assert await uow.labs.get_link("absent") is None
        assert await uow.labs.links(None, None, None, 10) == links[::-1]
        assert await uow.labs.links("r1", None, None, 10) == [links[2], links[0]]
        assert await uow.labs.links(None, "p1", None, 10) == [links[1], links[0]]
        assert await uow.labs.links("r1", "p1", None, 10) == [links[0]]
        assert await uow.labs.links(None, None, links[2].id, 1) == [links[1]]
        assert await uow.labs.undo_link(undone)
        assert not await uow.labs.undo_link(replace(undone, undo_reason="again"))
        assert not await uow.labs.undo_link(replace(undone, id="absent"))
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        # Only the undo is recorded: who the link named and how it was made stay as found.
        assert await uow.labs.get_link(links[0].id) == replace(
            links[0], undone_at=NOW, undone_by="nurse-b", undo_reason="wrong twin")


async def test_alerts_acknowledge_once_and_count_by_delivery(backend: Backend) -> None:
    a1, a2, a3 = _alert("r1", "p1"), _alert("r1", "p2"), _alert("r2", "p1")
    async with backend.new_unit_of_work() as uow:
        await uow.labs.add_alerts([a1, a2, a3])
        await uow.labs.add_alerts([])
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert await uow.labs.get_alerts([a1.id, a3.id, "absent"]) == {a1.id: a1, a3.id: a3}
        assert await uow.labs.get_alerts([]) == {}
        assert await uow.labs.alerts_for_result("r1") == [a1, a2]
        assert await uow.labs.alerts(None, None, 10) == [a3, a2, a1]
        assert await uow.labs.alerts("p1", None, 10) == [a3, a1]
        assert await uow.labs.alerts(None, a3.id, 1) == [a2]
        assert await uow.labs.count_alerts("pending") == 3
        await uow.labs.set_alert_delivery(a1.id, "delivered")
        await uow.labs.set_alert_delivery(a2.id, "undelivered")
        await uow.labs.set_alert_delivery("absent", "delivered")
        assert await uow.labs.acknowledge_alert(a1.id, "dr-otieno", NOW)
        assert not await uow.labs.acknowledge_alert(a1.id, "dr-late", NOW + timedelta(hours=1))
        assert not await uow.labs.acknowledge_alert("absent", "dr-otieno", NOW)
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert (await uow.labs.get_alerts([a1.id]))[a1.id] == replace(
            a1, delivery_status="delivered", acknowledged_at=NOW, acknowledged_by="dr-otieno")
        # An acknowledged alert no longer counts, whatever its delivery.
        counts = [await uow.labs.count_alerts(s) for s in ("pending", "delivered", "undelivered")]
        assert counts == [1, 0, 1]


async def test_alerts_are_held_and_attached_with_their_result(backend: Backend) -> None:
    a1, a2, other = _alert("r1", "p1"), _alert("r1", "p1"), _alert("r2", "p1")
    candidates = ({"patient_id": "p1", "review_task_id": "t1", "grade": "probable",
                   "score": 0.75},
                  {"patient_id": "p2", "review_task_id": "t2", "grade": "possible",
                   "score": 0.5})
    async with backend.new_unit_of_work() as uow:
        await uow.labs.add_alerts([a1, a2, other])
        await uow.labs.hold_alerts("r1", candidates)
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        held = await uow.labs.alerts_for_result("r1")
        assert held == [replace(a, patient_id=None, observation_id=None, candidates=candidates)
                        for a in (a1, a2)]
        assert await uow.labs.alerts("p1", None, 10) == [other]
        await uow.labs.attach_alert(a2.id, "p2", "o9")
        await uow.labs.attach_alert("absent", "p2", "o9")
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert await uow.labs.alerts("p2", None, 10) == [
            replace(a2, patient_id="p2", observation_id="o9", candidates=candidates)]


async def test_escalation_is_due_by_last_raise_and_taken_once(backend: Backend) -> None:
    oldest, newer, newest = (_alert("r1", "p1", minutes=0), _alert("r2", "p1", minutes=10),
                             _alert("r3", "p1", minutes=20))
    acknowledged = replace(_alert("r4", "p1", minutes=-30), acknowledged_at=NOW,
                           acknowledged_by="dr-a")
    exhausted = replace(_alert("r5", "p1", minutes=-30), escalation_level=2,
                        escalated_at=NOW - timedelta(minutes=30))
    async with backend.new_unit_of_work() as uow:
        await uow.labs.add_alerts([newest, acknowledged, oldest, exhausted, newer])
        await uow.commit()
    before = NOW + timedelta(minutes=15)
    async with backend.new_unit_of_work() as uow:
        assert await uow.labs.due_escalations(before, 2, 10) == [oldest, newer]
        assert await uow.labs.due_escalations(before, 2, 1) == [oldest]
        assert await uow.labs.due_escalations(before, 3, 10) == [exhausted, oldest, newer]
        assert await uow.labs.escalate_alert(oldest, before)
        assert not await uow.labs.escalate_alert(oldest, before)  # the level moved on
        assert not await uow.labs.escalate_alert(acknowledged, before)
        assert not await uow.labs.escalate_alert(replace(oldest, id="absent"), before)
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        escalated = replace(oldest, escalation_level=1, escalated_at=before)
        assert await uow.labs.get_alerts([oldest.id]) == {oldest.id: escalated}
        # Escalated at ``before``: not due again until later than that.
        assert await uow.labs.due_escalations(before, 2, 10) == [newer]
        assert await uow.labs.due_escalations(
            before + timedelta(seconds=1), 2, 10) == [newer, escalated]
        assert await uow.labs.escalate_alert(escalated, before + timedelta(minutes=5))
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert oldest.id not in {a.id for a in await uow.labs.due_escalations(
            NOW + timedelta(days=1), 2, 10)}


async def test_message_conflicts_are_listed_newest_first(backend: Backend) -> None:
    conflicts = [LabMessageConflict(id=new_id(), sending_facility="KNH-LAB", control_id="c1",
                                    first_result_id="r1", received_at=NOW + timedelta(minutes=i),
                                    received_by="lab-engine", raw_message=f"MSH|...|{i}")
                 for i in range(3)]
    async with backend.new_unit_of_work() as uow:
        await uow.labs.add_conflicts(conflicts)
        await uow.labs.add_conflicts([])
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert await uow.labs.conflicts(None, 10) == conflicts[::-1]
        assert await uow.labs.conflicts(None, 2) == conflicts[:0:-1]
        assert await uow.labs.conflicts(conflicts[1].id, 10) == [conflicts[0]]


async def test_lab_writes_rolled_back_are_gone_even_if_the_unit_commits_later(
        backend: Backend) -> None:
    dropped, kept = _result("c1"), _result("c2")
    async with backend.new_unit_of_work() as uow:
        await uow.labs.add_result(dropped)
        await uow.labs.add_alerts([_alert(dropped.id, None)])
        await uow.rollback()
        await uow.labs.add_result(kept)
        await uow.commit()
    async with backend.new_unit_of_work() as uow:
        assert await uow.labs.results(LabResultQuery()) == [kept]
        assert await uow.labs.alerts(None, None, 10) == []
    async with backend.new_unit_of_work() as uow:
        await uow.labs.add_result(_result("c3"))  # leaving without commit
    async with backend.new_unit_of_work() as uow:
        assert await uow.labs.results(LabResultQuery()) == [kept]
