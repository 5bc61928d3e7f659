"""The lab_result_linked handler: one keyed request per (result, patient), only while the
result is still linked to that patient, never a value."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from adapters.memory.store import InMemoryUnitOfWork, MemoryState
from resolvers.labs.patient_notices import LAB_RESULT_LINKED, linked_notice
from resolvers.labs.records import LabResult
from resolvers.messaging.model import Purpose
from resolvers.messaging_uses.lab_results import LabResultReady
from resolvers.messaging_uses.model import MessagingUsesConfig
from resolvers.outbox.delivery import PermanentDeliveryError
from resolvers.outbox.model import OutboxMessage, OutboxStatus
from tests.messaging_uses.fakes import FakeScheduler

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
CONFIG = MessagingUsesConfig(facility_name="Kibera Clinic", lab_result_template="results_ready")
RESULT = LabResult(id="r1", sending_facility="CENTRAL_LAB", control_id="C1", received_at=NOW,
                   patient_id="p1", match_grade="certain", match_score=1.0, encounter_id=None,
                   status="linked", observations_created=1, critical_count=0,
                   report_ids=("d1",), observation_ids=("o1",), raw_message="OBX|1|NM|...|6.9")


class Clock:
    def now(self) -> datetime:
        return NOW


def outbox(result_id: str, patient_id: str) -> OutboxMessage:
    notice = linked_notice(result_id, patient_id)
    assert notice.destination == LAB_RESULT_LINKED
    return OutboxMessage("m1", notice.destination, notice.payload, notice.idempotency_key,
                         OutboxStatus.IN_FLIGHT, 0, NOW, NOW)


def handler(result: LabResult | None, config: MessagingUsesConfig = CONFIG,
            ) -> tuple[LabResultReady, FakeScheduler]:
    state = MemoryState()
    if result is not None:
        state.labs.results[result.id] = result
    scheduler = FakeScheduler()
    return LabResultReady(lambda: InMemoryUnitOfWork(state, Clock().now), scheduler, Clock(),
                          config), scheduler


async def test_a_linked_result_asks_once_for_the_facility_only_message() -> None:
    ready, scheduler = handler(RESULT)
    await ready.deliver(outbox("r1", "p1"))
    await ready.deliver(outbox("r1", "p1"))  # the notice again: the same key
    [(key, request)] = scheduler.requests.items()
    assert key == "lab-result-ready:r1:p1"
    assert (request.purpose, request.patient_id, request.requires_consent) == (
        Purpose.LAB_RESULT_READY, "p1", True)
    assert request.template.name == "results_ready"
    assert request.template.body_params == ("Kibera Clinic",) and "6.9" not in repr(request)


@pytest.mark.parametrize("result", [
    replace(RESULT, status="review", patient_id=None),  # unlinked since the notice
    replace(RESULT, patient_id="p2"),  # linked to someone else since
    None,
])
async def test_nobody_is_told_of_a_result_no_longer_theirs(result: LabResult | None) -> None:
    ready, scheduler = handler(result)
    await ready.deliver(outbox("r1", "p1"))
    assert scheduler.requests == {}


async def test_turned_off_since_the_notice_and_malformed_notices() -> None:
    ready, scheduler = handler(RESULT, MessagingUsesConfig())
    await ready.deliver(outbox("r1", "p1"))
    assert scheduler.requests == {}
    bad = OutboxMessage("m2", LAB_RESULT_LINKED, {"lab_result_id": 7}, "k", OutboxStatus.IN_FLIGHT,
                        0, NOW, NOW)
    with pytest.raises(PermanentDeliveryError):
        await ready.deliver(bad)
