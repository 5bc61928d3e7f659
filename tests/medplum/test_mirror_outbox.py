"""The Medplum mirror through the real outbox: SqlOutboxStore on SQLite, OutboxWorker,
MedplumMirror, the guarded shared client and the Node stand-in.

Medplum goes down, answers 500, or is slower than the client timeout; the messages are
retried with backoff, none is lost, and once Medplum recovers every resource is there
exactly once (checked by searching Medplum).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.db.engine import create_engine, session_factory
from adapters.db.outbox import SqlOutboxStore
from adapters.db.uow import SqlUnitOfWork
from adapters.http.outbound import OutboundPolicy, build_http_client
from adapters.medplum.matching import GATEWAY_ID_SYSTEM
from adapters.medplum.mirror import FHIR_UPSERT, MEDPLUM, MedplumMirror
from composition import migrate_engine
from resolvers.clock import SystemClock
from resolvers.outbox.model import NewOutboxMessage, OutboxMessage, OutboxQuery, OutboxStatus
from resolvers.outbox.worker import OutboxWorker, RetryPolicy, WorkerConfig
from tests.medplum.conftest import CLIENT_TIMEOUT, make_client
from tests.medplum.harness import MedplumServer

pytestmark = pytest.mark.slow

BACKOFF_BASE = 0.1
BACKOFF_MAX = 0.8


@dataclass
class Outbox:
    store: SqlOutboxStore
    uow: Callable[[], SqlUnitOfWork]
    worker: OutboxWorker

    async def enqueue(self, resources: list[dict[str, Any]]) -> None:
        """As the FHIR write path does: one message per resource version."""
        async with self.uow() as uow:
            await uow.outbox.enqueue([NewOutboxMessage(
                MEDPLUM, {"type": FHIR_UPSERT, "resource": r},
                f"fhir:{r['resourceType']}/{r['id']}/_history/{version(r)}")
                for r in resources])
            await uow.commit()

    async def messages(self, status: OutboxStatus | None = None) -> list[OutboxMessage]:
        return await self.store.search(OutboxQuery(status=status, limit=500))

    async def wait(self, check: Callable[[list[OutboxMessage]], bool], timeout: float = 30,
                   ) -> list[OutboxMessage]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            messages = await self.messages()
            if check(messages):
                return messages
            if asyncio.get_running_loop().time() > deadline:
                summary = [(m.status.value, m.attempts, m.last_error) for m in messages]
                raise AssertionError(f"outbox did not get there in time: {summary}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_outbox(tmp_path: Path, server: MedplumServer,
                         policy: OutboundPolicy | None = None, max_attempts: int = 100,
                         backoff_base: float = BACKOFF_BASE) -> AsyncIterator[Outbox]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.sqlite3'}")
    await migrate_engine(engine)
    sessions = session_factory(engine)
    store = SqlOutboxStore(sessions)
    stop = asyncio.Event()
    async with build_http_client(policy or OutboundPolicy(["127.0.0.1"]), CLIENT_TIMEOUT) as http:
        worker = OutboxWorker(
            store, {MEDPLUM: MedplumMirror(make_client(http, server))}, SystemClock(),
            RetryPolicy(max_attempts=max_attempts, base_seconds=backoff_base,
                        max_seconds=max(BACKOFF_MAX, backoff_base), rng=random.Random(7)),
            WorkerConfig(batch_size=20, poll_seconds=0.02, lease_seconds=10))
        outbox = Outbox(store, lambda: SqlUnitOfWork(sessions, SystemClock().now,
                                                     on_commit=worker.wake), worker)
        task = asyncio.create_task(worker.run(stop))
        try:
            yield outbox
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    await engine.dispose()


def clinical_records(n_patients: int = 4) -> list[dict[str, Any]]:
    """Patients (versions 1 and 2 of each) and one Observation per patient; the last
    Observation carries no version (it takes the plain conditional-update path)."""
    records: list[dict[str, Any]] = []
    for i in range(n_patients):
        pid = str(uuid.uuid4())
        base = {"resourceType": "Patient", "id": pid,
                "identifier": [{"system": "urn:ke:nid", "value": f"{i}{uuid.uuid4().hex[:6]}"}]}
        records.append({**base, "meta": {"versionId": "1"}, "name": [{"family": f"P{i}-v1"}]})
        records.append({**base, "meta": {"versionId": "2"}, "name": [{"family": f"P{i}-v2"}]})
        records.append({"resourceType": "Observation", "id": str(uuid.uuid4()),
                        "meta": {"versionId": "1"}, "status": "final",
                        "code": {"text": "Haemoglobin"}, "subject": {"reference": f"Patient/{pid}"},
                        "valueQuantity": {"value": 11.5 + i, "unit": "g/dL"}})
    del records[-1]["meta"]
    return records


def version(record: dict[str, Any]) -> int:
    return int(record.get("meta", {}).get("versionId", "0"))


def all_delivered(count: int) -> Callable[[list[OutboxMessage]], bool]:
    return lambda ms: len(ms) == count and all(m.status == OutboxStatus.DELIVERED for m in ms)


def each_failed_at_least(times: int, count: int) -> Callable[[list[OutboxMessage]], bool]:
    """``count`` messages are waiting, and each of them has failed ``times`` times or more."""
    def check(ms: list[OutboxMessage]) -> bool:
        waiting = [m for m in ms if m.status != OutboxStatus.DELIVERED]
        return len(waiting) == count and all(
            m.attempts >= times and m.status != OutboxStatus.DEAD for m in waiting)
    return check


async def assert_mirrored_exactly_once(server: MedplumServer,
                                       records: list[dict[str, Any]]) -> None:
    """Medplum holds one copy per gateway resource, carrying its newest version."""
    newest: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["id"] not in newest or version(r) > version(newest[r["id"]]):
            newest[r["id"]] = r
    copies: list[dict[str, Any]] = []
    for resource_type in ("Patient", "Observation"):
        copies += await server.asearch(resource_type)
    by_gateway_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for copy in copies:
        (gid,) = [i["value"] for i in copy["identifier"] if i["system"] == GATEWAY_ID_SYSTEM]
        by_gateway_id[gid].append(copy)
    assert sorted(by_gateway_id) == sorted(newest), "a resource is missing or extra"
    for gid, found in by_gateway_id.items():
        assert len(found) == 1, f"{len(found)} copies of {gid}"
        (copy,), ours = found, newest[gid]
        for field in ("name", "valueQuantity", "status"):
            assert copy.get(field) == ours.get(field)


def attempt_times(requests: list[dict[str, Any]], gateway_id: str) -> list[float]:
    """When each delivery attempt of one resource started: its first request carries the
    match key (a lookup, or the conditional update of an unversioned resource)."""
    key = f"{GATEWAY_ID_SYSTEM}|{gateway_id}"
    return [r["at"] / 1000 for r in requests
            if r["method"] in ("GET", "PUT") and r["query"].get("identifier") == key]


def assert_backoff(times: list[float]) -> None:
    """Gaps between attempts grow as the retry policy says (at least half of base * 2^(n-1))."""
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps, "expected retries"
    for n, gap in enumerate(gaps, start=1):
        floor = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (n - 1)) / 2
        assert gap >= floor - 0.02, (n, gaps)


async def run_outage(outbox: Outbox, server: MedplumServer, records: list[dict[str, Any]],
                     recover: Callable[[], Awaitable[None]], *, failures: int = 3) -> None:
    before = {m.id for m in await outbox.messages()}  # delivered earlier in the test
    await outbox.enqueue(records)
    await outbox.wait(each_failed_at_least(failures, len(records)))
    assert (await outbox.store.counts())["dead"] == 0
    await recover()
    delivered = await outbox.wait(all_delivered(len(before) + len(records)))
    assert all(m.attempts > failures for m in delivered if m.id not in before)
    await assert_mirrored_exactly_once(server, records)


# ------------------------------------------------------------------ outages


async def test_medplum_down_then_back(own_medplum: MedplumServer, tmp_path: Path) -> None:
    warm_up, *records = clinical_records()
    async with running_outbox(tmp_path, own_medplum) as outbox:
        await outbox.enqueue([warm_up])  # the client now holds a token
        await outbox.wait(all_delivered(1))
        await own_medplum.astop()
        # The stand-in keeps its data in memory: the restarted one starts empty, which is
        # why only the records sent during the outage are checked below.
        await run_outage(outbox, own_medplum, records, own_medplum.astart)
    # The restarted Medplum did not know the token the client held: the deliveries in
    # flight got 401s with it, and a single renewal served them all.
    requests = await own_medplum.arequests()
    fhir = [r for r in requests if r["path"].startswith("/fhir/")]
    assert [r["path"] for r in requests].count("/oauth2/token") == 1
    assert fhir[0]["status"] == 401 and fhir[0]["token"] is None
    assert {r["status"] for r in fhir if r["token"] is None} == {401}
    assert {r["token"] for r in fhir if r["status"] != 401} == {1}


async def test_medplum_answering_500_then_recovering(medplum: MedplumServer,
                                                     tmp_path: Path) -> None:
    records = clinical_records()
    async with running_outbox(tmp_path, medplum) as outbox:
        await medplum.afaults("error500")
        await run_outage(outbox, medplum, records, lambda: medplum.afaults("ok"), failures=4)
    requests = await medplum.arequests()
    for record in records:
        if record["resourceType"] == "Observation":  # one message each: its own attempts
            times = attempt_times(requests, record["id"])
            assert len(times) >= 5
            assert_backoff(times[:5])  # the first five attempts, all while Medplum failed


async def test_medplum_slower_than_the_client_timeout(medplum: MedplumServer,
                                                      tmp_path: Path) -> None:
    """Writes time out on our side but still happen in Medplum a little later; the retries
    must find those copies instead of creating second ones."""
    records = clinical_records(3)
    late = CLIENT_TIMEOUT * 1.6
    async with running_outbox(tmp_path, medplum) as outbox:
        await medplum.afaults("slow", delayMs=int(late * 1000), methods=["PUT", "POST"])
        await outbox.enqueue(records)
        # Every message has timed out at least once. Versioned ones may already be delivered:
        # a retry that finds the late write (same version) has nothing left to do.
        await outbox.wait(lambda ms: len(ms) == len(records) and all(
            m.attempts >= 2 and m.status != OutboxStatus.DEAD for m in ms))
        (unversioned,) = [m for m in await outbox.messages()
                          if "meta" not in m.payload["resource"]]
        assert unversioned.status != OutboxStatus.DELIVERED  # its PUT cannot get through
        await medplum.afaults("ok")
        await outbox.wait(all_delivered(len(records)))
        await asyncio.sleep(late)  # let the last late writes land, too
    slow = [r for r in await medplum.arequests() if r.get("fault") == "slow"]
    assert len(slow) >= len({r["id"] for r in records})
    await assert_mirrored_exactly_once(medplum, records)


async def test_versions_delivered_out_of_order_end_with_the_newest(
        medplum: MedplumServer, tmp_path: Path) -> None:
    """Version 2 gets through while version 1 is still being retried: Medplum keeps 2."""
    v1 = {"resourceType": "Patient", "id": str(uuid.uuid4()), "meta": {"versionId": "1"},
          "identifier": [{"system": "urn:ke:nid", "value": "31415926"}],
          "name": [{"family": "Wanjiru"}]}
    v2 = {**v1, "meta": {"versionId": "2"}, "name": [{"family": "Wanjiru-Kamau"}]}
    # A long backoff, so that version 1 is retried only after version 2 went through.
    async with running_outbox(tmp_path, medplum, backoff_base=2.0) as outbox:
        await medplum.afaults("error", status=503, count=1, methods=["GET"])  # v1's first try
        await outbox.enqueue([v1])
        await outbox.wait(lambda ms: ms[0].attempts == 1)
        await outbox.enqueue([v2])
        await outbox.wait(all_delivered(2))
    (copy,) = await medplum.asearch("Patient", identifier=f"{GATEWAY_ID_SYSTEM}|{v1['id']}")
    assert copy["name"] == [{"family": "Wanjiru-Kamau"}]
    fhir = [(r["method"], r["status"]) for r in await medplum.arequests()
            if r["path"].startswith("/fhir/")]
    # v1 fails; v2 looks and creates; v1's retry looks, finds version 2 and writes nothing.
    assert fhir == [("GET", 503), ("GET", 200), ("POST", 201), ("GET", 200)]


# ------------------------------------------------------------------ dead letters


async def test_refusals_and_bad_payloads_are_dead_letters_at_once(
        medplum: MedplumServer, tmp_path: Path) -> None:
    good = clinical_records(1)[0]
    async with running_outbox(tmp_path, medplum) as outbox:
        await medplum.afaults("error", status=422, count=1, methods=["POST", "PUT"])
        await outbox.enqueue([good])
        async with outbox.uow() as uow:
            await uow.outbox.enqueue([
                NewOutboxMessage(MEDPLUM, {"type": "fhir.patch", "resource": good}, "bad-1"),
                NewOutboxMessage(MEDPLUM, {"type": "fhir.delete", "resource": good}, "bad-4"),
                NewOutboxMessage(MEDPLUM, {"type": FHIR_UPSERT}, "bad-2"),
                NewOutboxMessage(MEDPLUM, {"type": FHIR_UPSERT, "resource": {
                    "resourceType": "Observation", "status": "final"}}, "bad-3")])
            await uow.commit()
        dead = await outbox.wait(lambda ms: len(ms) == 5 and all(
            m.status == OutboxStatus.DEAD for m in ms))
    assert all(m.attempts == 1 for m in dead)
    errors = sorted(str(m.last_error) for m in dead)
    assert any("422" in e for e in errors)
    assert any("fhir.patch" in e for e in errors)
    assert any("a delete needs resourceType, id" in e for e in errors)
    assert any("no 'resource'" in e for e in errors)
    assert any("neither an id nor an identifier" in e for e in errors)
    assert await medplum.asearch("Patient") == []


async def test_unlisted_medplum_address_is_a_dead_letter(medplum: MedplumServer,
                                                         tmp_path: Path) -> None:
    async with running_outbox(tmp_path, medplum, policy=OutboundPolicy([])) as outbox:
        await outbox.enqueue(clinical_records(1)[:1])
        (dead,) = await outbox.wait(lambda ms: ms[0].status == OutboxStatus.DEAD)
    assert "allow" in str(dead.last_error).lower()
    assert await medplum.arequests() == []


async def test_persistent_outage_ends_in_dead_letters_that_replay_cleanly(
        medplum: MedplumServer, tmp_path: Path) -> None:
    records = clinical_records(2)
    async with running_outbox(tmp_path, medplum, max_attempts=3) as outbox:
        await medplum.afaults("error500")
        await outbox.enqueue(records)
        await outbox.wait(lambda ms: len(ms) == len(records) and all(
            m.status == OutboxStatus.DEAD and m.attempts == 3 for m in ms))
        await medplum.afaults("ok")
        assert await outbox.store.replay(None, SystemClock().now()) == len(records)
        outbox.worker.wake()
        await outbox.wait(all_delivered(len(records)))
        # An admin replaying everything once more changes nothing in Medplum.
        async with outbox.uow() as uow:
            await uow.outbox.enqueue([NewOutboxMessage(
                MEDPLUM, {"type": FHIR_UPSERT, "resource": r}, f"again-{i}")
                for i, r in enumerate(records)])
            await uow.commit()
        await outbox.wait(all_delivered(2 * len(records)))
    await assert_mirrored_exactly_once(medplum, records)

