"""Rules of outbound webhooks without I/O: settings, wildcard matching, filter checks, the
retry schedule, the signature format, and the fan-out's idempotence (over an in-memory
store that implements the port)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from svix.webhooks import Webhook

from adapters.settings import SettingsError, load_settings
from adapters.webhooks_out.signer import StandardWebhooksSigner
from resolvers.clock import Clock
from resolvers.errors import InvalidInput
from resolvers.notifications.catalogue import catalogue, check_filters
from resolvers.notifications.events import webhook_event
from resolvers.notifications.fanout import WebhookFanout
from resolvers.notifications.model import (
    DEFAULT_SCHEDULE,
    FANOUT_BATCH,
    Delivery,
    DeliveryPolicy,
    DeliveryStatus,
    Endpoint,
    EndpointSecret,
    WebhookEvent,
    batch_fanout,
    matches,
    subscribed,
)
from resolvers.outbox.model import NewOutboxMessage, OutboxMessage, OutboxStatus

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


class FixedClock(Clock):
    def now(self) -> datetime:
        return NOW


def test_settings_are_parsed_and_checked() -> None:
    s = load_settings({"CARI_WEBHOOK_RETRY_SCHEDULE": "1, 2.5,60",
                       "CARI_WEBHOOK_TIMEOUT_SECONDS": "3",
                       "CARI_WEBHOOK_DISABLE_AFTER_SECONDS": "600",
                       "CARI_WEBHOOK_ROTATION_GRACE_SECONDS": "0",
                       "CARI_EVENT_WEBHOOK_SECRET": SECRET}).webhooks_out
    assert (s.retry_schedule, s.timeout_seconds, s.disable_after_seconds,
            s.rotation_grace_seconds, s.event_webhook_secret) == ((1, 2.5, 60), 3, 600, 0, SECRET)
    assert load_settings({}).webhooks_out.retry_schedule == DEFAULT_SCHEDULE
    for name, raw in [("CARI_WEBHOOK_RETRY_SCHEDULE", "soon"),
                      ("CARI_WEBHOOK_RETRY_SCHEDULE", "-1"),
                      ("CARI_WEBHOOK_TIMEOUT_SECONDS", "0"),
                      ("CARI_WEBHOOK_DISABLE_AFTER_SECONDS", "forever"),
                      ("CARI_EVENT_WEBHOOK_SECRET", "whsec_c2hvcnQ=")]:
        with pytest.raises(SettingsError, match=name):
            load_settings({name: raw})


def test_the_default_schedule_spans_about_three_days() -> None:
    policy = DeliveryPolicy()
    assert policy.max_attempts == 11
    assert timedelta(days=2.5) < timedelta(seconds=sum(DEFAULT_SCHEDULE)) < timedelta(days=3)
    assert [policy.delay(n) for n in (1, 2, 10, 11, 50)] == [5, 300, 50400, 50400, 50400]


def test_wildcards_and_the_resource_type_filter() -> None:
    assert matches("*", "lab.alert.raised") and matches("lab.*", "lab.alert.raised")
    assert matches("lab.alert.*", "lab.alert.raised")
    assert not matches("lab.*", "labx.result") and not matches("lab.result.created",
                                                                  "lab.result.corrected")
    assert subscribed(("fhir.resource.*",), ("Patient",), "fhir.resource.created", "Patient")
    assert not subscribed(("fhir.resource.*",), ("Patient",), "fhir.resource.created",
                          "Observation")
    assert subscribed(("*",), ("Patient",), "lab.result.created", None)  # no type: not filtered
    assert check_filters(["lab.*", "lab.*", "*"], []) == (("lab.*", "*"), ())
    for bad in (["lab.result.made"], ["nothing.*"], [], ["LAB.*"]):
        with pytest.raises(InvalidInput):
            check_filters(bad, [])
    with pytest.raises(InvalidInput):
        check_filters(["*"], ["observation"])
    assert all(t.schema()["properties"]["type"] == {"const": name}
               for name, t in catalogue().items())


def test_signatures_follow_standard_webhooks_and_verify_with_svix() -> None:
    signer = StandardWebhooksSigner()
    other = signer.new_secret()
    assert other.startswith("whsec_") and len(base64.b64decode(other[6:])) == 32
    body = b'{"type":"webhook.test"}'
    at = datetime.now(UTC)
    header = signer.signature([SECRET, other], "evt_1", at, body)
    assert [part[:3] for part in header.split(" ")] == ["v1,", "v1,"]
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(int(at.timestamp())),
               "webhook-signature": header}
    Webhook(SECRET).verify(body, headers)
    Webhook(other).verify(body, headers)
    endpoint = _endpoint("e1", previous=EndpointSecret(other, NOW + timedelta(seconds=1)))
    assert endpoint.signing_secrets(NOW) == [SECRET, other]
    assert endpoint.signing_secrets(NOW + timedelta(seconds=1)) == [SECRET]


def _endpoint(endpoint_id: str, *, types: tuple[str, ...] = ("*",), enabled: bool = True,
              previous: EndpointSecret | None = None) -> Endpoint:
    return Endpoint(id=endpoint_id, url=f"https://hooks.example.org/{endpoint_id}",
                    event_types=types, resource_types=(), description="", enabled=enabled,
                    secret=SECRET, previous_secret=previous, created_by="t", created_at=NOW,
                    updated_at=NOW)


class MemoryStore:
    """The part of the WebhookStore port the fan-out uses, with the SQL store's uniqueness:
    one event per id, one delivery per (event, endpoint), one outbox row per key."""

    def __init__(self, endpoints: list[Endpoint]) -> None:
        self.endpoints = endpoints
        self.events: dict[str, WebhookEvent] = {}
        self.deliveries: dict[tuple[str, str], Delivery] = {}
        self.outbox: dict[str, NewOutboxMessage] = {}

    async def all_endpoints(self) -> list[Endpoint]:
        return list(self.endpoints)

    async def record_fanout(self, event: WebhookEvent, deliveries: Sequence[Delivery],
                            messages: Sequence[NewOutboxMessage]) -> None:
        self.events.setdefault(event.id, event)
        for d in deliveries:
            self.deliveries.setdefault((d.event_id, d.endpoint_id), d)
        for m in messages:
            self.outbox.setdefault(m.idempotency_key, m)


def _message(new: NewOutboxMessage) -> OutboxMessage:
    return OutboxMessage(id="m1", destination=new.destination, payload=new.payload,
                         idempotency_key=new.idempotency_key, status=OutboxStatus.IN_FLIGHT,
                         attempts=0, next_attempt_at=NOW, created_at=NOW)


async def test_the_fan_out_is_idempotent_and_respects_filters() -> None:
    store = MemoryStore([_endpoint("all"), _endpoint("labs", types=("lab.*",)),
                         _endpoint("pay", types=("payment.*",)),
                         _endpoint("off", enabled=False)])
    fanout = WebhookFanout(store, FixedClock())  # type: ignore[arg-type]
    message = _message(webhook_event("lab.result.created", {"lab_result_id": "r1"}, NOW,
                                     key="r1"))
    await fanout.deliver(message)
    await fanout.deliver(message)  # the worker died before settling: the fan-out runs again
    assert sorted(e for _ev, e in store.deliveries) == ["all", "labs", "off"]
    assert store.deliveries[(message.payload["id"], "off")].status is DeliveryStatus.SKIPPED
    assert len(store.outbox) == 2  # nothing is sent to the disabled endpoint
    assert {k.split(":")[1] for k in store.outbox} == {"all", "labs"}

    test = _message(webhook_event("webhook.test", {"endpoint_id": "pay", "message": "x"}, NOW,
                                  only_endpoint="pay"))
    await fanout.deliver(test)
    assert [e for ev, e in store.deliveries if ev == test.payload["id"]] == ["pay"]

    nobody = MemoryStore([_endpoint("pay", types=("payment.*",))])
    await WebhookFanout(nobody, FixedClock()).deliver(message)  # type: ignore[arg-type]
    assert nobody.events == {} and nobody.outbox == {}  # nothing stored for nobody


async def test_the_events_of_one_write_are_one_fan_out_row_and_keep_their_ids() -> None:
    """A write's events go out as one outbox row (batch_fanout); each event keeps an id
    derived from its change's key, so a change announced by two writes is delivered once."""
    created = webhook_event("lab.result.created", {"lab_result_id": "r1"}, NOW, key="r1")
    resources = [webhook_event("fhir.resource.created", {"resource_id": f"o{n}"}, NOW,
                               key=f"Observation/o{n}/_history/1",
                               resource_type="Observation") for n in range(3)]
    medplum = NewOutboxMessage("medplum", {"type": "upsert"}, "fhir:Observation/o0")
    rows = batch_fanout([medplum, created, *resources])
    assert [r.destination for r in rows] == ["medplum", "webhook_fanout"]
    batch = rows[1]
    assert [e["id"] for e in batch.payload[FANOUT_BATCH]] == [
        m.payload["id"] for m in (created, *resources)]
    assert batch_fanout([created]) == [created]  # one event: its own row, as before
    again = webhook_event("lab.result.created", {"lab_result_id": "r1"}, NOW, key="r1")
    assert again.payload["id"] == created.payload["id"]
    assert webhook_event("webhook.test", {}, NOW).payload["id"] != webhook_event(
        "webhook.test", {}, NOW).payload["id"]  # no key: a new event each time

    store = MemoryStore([_endpoint("labs", types=("lab.*",)),
                         _endpoint("obs", types=("fhir.resource.*",))])
    fanout = WebhookFanout(store, FixedClock())  # type: ignore[arg-type]
    await fanout.deliver(_message(batch))
    await fanout.deliver(_message(batch_fanout([again, resources[0]])[0]))  # announced again
    assert sorted(store.deliveries) == sorted(
        [(created.payload["id"], "labs"), *((r.payload["id"], "obs") for r in resources)])
    assert len(store.outbox) == 4


def test_payment_events_name_ids_provider_and_status_only() -> None:
    from resolvers.payments.model import PaymentStatus
    from resolvers.payments.webhook_events import PAYMENT_EVENTS, payment_event
    from tests.notifications.schemas import assert_valid

    class Paid:
        id = "pay-1"
        provider = "mpesa"

    for status, event_type in PAYMENT_EVENTS.items():
        message = payment_event(Paid(), status, NOW)  # type: ignore[arg-type]
        body = {k: message.payload[k] for k in ("id", "type", "version", "data")}
        body["timestamp"] = NOW.isoformat().replace("+00:00", "Z")
        assert body["type"] == event_type and body["data"] == {
            "payment_id": "pay-1", "provider": "mpesa", "status": status.value}
        assert_valid(body)
    assert PAYMENT_EVENTS[PaymentStatus.REFUNDED] == "payment.refunded"
