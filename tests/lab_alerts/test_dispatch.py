"""LabAlertDispatcher over the in-memory unit of work: which channel each level goes to,
hand-over, acknowledged escalations dropped, and a failing live feed that costs the screens
one event but never the channels' delivery."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from adapters.memory.store import InMemoryUnitOfWork, MemoryState
from resolvers.labs.alerting.channels import AlertNotice, Outcome, WhatsAppChannel
from resolvers.labs.alerting.dispatch import LabAlertDispatcher
from resolvers.labs.alerting.feed import InMemoryAlertFeed
from resolvers.labs.alerting.model import (
    AlertRoutes,
    ChannelSpec,
    RaisedAlert,
    WhatsAppAlertTemplate,
)
from resolvers.labs.critical_alerts import alert_message
from resolvers.labs.records import LabAlert, LabResult
from resolvers.messaging.model import MessageRequest, ScheduledMessage
from resolvers.outbox.model import OutboxMessage, OutboxStatus

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return NOW


class Channel:
    def __init__(self, spec: ChannelSpec, reaches: bool = True) -> None:
        self.spec = spec
        self.reaches = reaches
        self.sent: list[int] = []

    async def send(self, notice: AlertNotice) -> Outcome:
        self.sent.append(notice.level)
        return Outcome(self.reaches, "" if self.reaches else "nobody")


class BrokenFeed(InMemoryAlertFeed):
    async def publish(self, alert: RaisedAlert) -> None:
        raise ConnectionError("the database went away")


def _alert(**over: object) -> LabAlert:
    fields: dict[str, object] = dict(
        id="al-1", lab_result_id="lr-1", observation_id="obs-1", patient_id="p-1",
        code="2823-3", value="7.1 mmol/L", direction="high", reason="critical high",
        recipient="DR7^Kamau^Peter", created_at=NOW)
    fields.update(over)
    return LabAlert(**fields)  # type: ignore[arg-type]


async def _state(alert: LabAlert) -> MemoryState:
    state = MemoryState()
    async with InMemoryUnitOfWork(state, Clock().now) as uow:
        await uow.labs.add_result(LabResult(
            id="lr-1", sending_facility="KNH_LAB", control_id="C1", received_at=NOW,
            patient_id="p-1", match_grade="certain", match_score=1.0, encounter_id=None,
            status="linked", observations_created=1, critical_count=1, report_ids=(),
            observation_ids=("obs-1",), raw_message="MSH|..."))
        await uow.labs.add_alerts([alert])
        await uow.commit()
    return state


def _message(alert: LabAlert, level: int) -> OutboxMessage:
    new = alert_message(alert, "lab.critical", alert.recipient, f"k{level}")
    payload = {**new.payload, "escalation_level": level}
    return OutboxMessage(id=f"m{level}", destination=new.destination, payload=payload,
                         idempotency_key=new.idempotency_key, status=OutboxStatus.IN_FLIGHT,
                         attempts=0, next_attempt_at=NOW, created_at=NOW)


async def _dispatcher(state: MemoryState, channels: list[Channel],
                      feed: InMemoryAlertFeed) -> tuple[LabAlertDispatcher, list[int]]:
    undelivered: list[int] = []
    routes = AlertRoutes({"KNH_LAB": tuple(c.spec for c in channels)})
    return LabAlertDispatcher(lambda: InMemoryUnitOfWork(state, Clock().now), Clock(), routes,
                              {c.spec: c for c in channels}, feed,
                              lambda: undelivered.append(1)), undelivered


async def _status(state: MemoryState) -> str:
    async with InMemoryUnitOfWork(state, Clock().now) as uow:
        return (await uow.labs.get_alerts(["al-1"]))["al-1"].delivery_status


async def test_each_level_goes_to_its_channel_and_a_silent_one_hands_over() -> None:
    alert = _alert()
    state = await _state(alert)
    first = Channel(ChannelSpec("subscriptions"), reaches=False)
    second = Channel(ChannelSpec("whatsapp", "ordering-clinician"))
    third = Channel(ChannelSpec("whatsapp", "+254700000999"))
    feed = InMemoryAlertFeed()
    dispatcher, undelivered = await _dispatcher(state, [first, second, third], feed)
    async with feed.listen() as live:
        await dispatcher.deliver(_message(alert, 0))  # nobody subscribed: the clinician
        await dispatcher.deliver(_message(alert, 1))
        await dispatcher.deliver(_message(alert, 5))  # past the list: its last channel
        events = [await anext(live) for _ in range(3)]
    assert first.sent == [0] and second.sent == [0, 1] and third.sent == [5]
    assert [e.escalation_level for e in events] == [0, 1, 5]
    assert {e.facility for e in events} == {"KNH_LAB"}
    assert await _status(state) == "delivered" and undelivered == []


async def test_nobody_reached_is_undelivered_and_counted() -> None:
    alert = _alert()
    state = await _state(alert)
    dispatcher, undelivered = await _dispatcher(
        state, [Channel(ChannelSpec("subscriptions"), reaches=False)], InMemoryAlertFeed())
    await dispatcher.deliver(_message(alert, 0))
    assert await _status(state) == "undelivered" and undelivered == [1]


async def test_an_escalation_queued_before_the_acknowledgement_is_dropped() -> None:
    alert = _alert(acknowledged_at=NOW, acknowledged_by="dr-kamau")
    state = await _state(alert)
    channel = Channel(ChannelSpec("subscriptions"))
    dispatcher, _ = await _dispatcher(state, [channel], InMemoryAlertFeed())
    await dispatcher.deliver(_message(alert, 1))
    assert channel.sent == []


async def test_a_failing_feed_does_not_stop_the_channels() -> None:
    alert = _alert()
    state = await _state(alert)
    channel = Channel(ChannelSpec("subscriptions"))
    dispatcher, _ = await _dispatcher(state, [channel], BrokenFeed())
    await dispatcher.deliver(_message(alert, 0))
    assert channel.sent == [0] and await _status(state) == "delivered"


class Phones:
    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        self.asked: list[str] = []

    async def phone_of(self, provider_id: str) -> str | None:
        self.asked.append(provider_id)
        return self.known.get(provider_id)


class Scheduler:
    def __init__(self, status: str) -> None:
        self.status = status
        self.requests: list[MessageRequest] = []

    async def schedule(self, requests: Sequence[MessageRequest]) -> list[ScheduledMessage]:
        self.requests += requests
        return [ScheduledMessage(id="m", key=r.key, purpose=r.purpose, status=self.status,
                                 send_at=r.send_at, reason="no such template")
                for r in requests]

    async def cancel(self, key_prefix: str) -> int:
        return 0


def _notice(alert: LabAlert, level: int = 1) -> AlertNotice:
    return AlertNotice(alert, "KNH_LAB", level, _message(alert, level), NOW)


async def test_whatsapp_asks_for_the_ordering_providers_phone_and_sends_only_a_link() -> None:
    phones, scheduler = Phones({"DR7": "+254711000111"}), Scheduler("scheduled")
    channel = WhatsAppChannel(ChannelSpec("whatsapp", "ordering-clinician"), scheduler, phones,
                              WhatsAppAlertTemplate(link_base="https://c.example/a#{id}"))
    assert (await channel.send(_notice(_alert()))).reached
    [request] = scheduler.requests
    assert phones.asked == ["DR7"] and request.phone == "+254711000111"
    assert request.template.body_params == ("https://c.example/a#al-1",)
    assert request.key == "lab-alert:al-1:1:whatsapp:ordering-clinician"
    assert not request.requires_consent and request.purpose == "lab_alert"
    unknown = await channel.send(_notice(_alert(recipient="NOBODY^X")))
    assert not unknown.reached and "no phone" in unknown.reason
    assert len(scheduler.requests) == 1


async def test_a_message_messaging_refuses_counts_as_not_reached() -> None:
    channel = WhatsAppChannel(ChannelSpec("whatsapp", "+254700000999"), Scheduler("failed"),
                              Phones({}), WhatsAppAlertTemplate())
    outcome = await channel.send(_notice(_alert()))
    assert not outcome.reached and "failed" in outcome.reason
