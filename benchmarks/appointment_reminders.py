"""appointment_reminders: what appointment reminders cost, in process, on a SQLite file.

1,000 booked Appointments (two reminders each, 24 h and 2 h before) are written through the
FHIR store's write path twice, without and with the reminders' watch notice (one more outbox
row per version, in the write's transaction): writes/s both ways. Then every notice is
handled as the outbox worker would (read the history, compute the runs and the reminders,
schedule them), against a scheduler that only counts: appointments/s and reminders/s. Then
all 1,000 are rescheduled and reconciled again (old run cancelled, new one scheduled).

Last, HL7 ingest in process (``LabIngest.ingest``, no HTTP, no worker): 1 OBX messages for a
matched patient, through two gateways built by the composition root on two SQLite files,
one with the lab-result-ready use on (one ``lab_result_linked`` outbox row per result) and
one with it off, interleaved slice by slice: messages/s each way.

The scheduler stands in for WhatsApp messaging's, whose own storage is not measured here.
A measurement, not a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks._support import Options, write_result

NAME = "appointment_reminders"
COUNT = 1000
SLICES = 5


class CountingScheduler:
    """The MessageScheduler port, counting."""

    def __init__(self) -> None:
        self.scheduled = 0
        self.cancels = 0

    async def schedule(self, requests: Sequence[Any]) -> list[Any]:
        self.scheduled += len(requests)
        return []

    async def cancel(self, key_prefix: str) -> int:
        self.cancels += 1
        return 0


class NoAudit:
    """The AuditWriter port, dropping: the trail's cost is not this benchmark's."""

    async def record(self, records: Sequence[Any]) -> None:
        return None


def _appointment(i: int, start: datetime) -> dict[str, Any]:
    return {"resourceType": "Appointment", "status": "booked",
            "start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat(),
            "participant": [{"actor": {"reference": f"Patient/p{i}"}, "status": "accepted"}]}


async def _measure(data_dir: Path) -> dict[str, Any]:
    from adapters.db.engine import create_engine, session_factory
    from adapters.db.uow import SqlUnitOfWork
    from composition import migrate_engine
    from resolvers.clock import SystemClock
    from resolvers.fhir.writer import MirrorConfig, write_resource
    from resolvers.messaging_uses.model import MessagingUsesConfig
    from resolvers.messaging_uses.reconciler import Reconciler
    from resolvers.messaging_uses.wiring import APPOINTMENTS, watchers

    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'bench.sqlite3'}")
    await migrate_engine(engine)
    sessions = session_factory(engine)
    clock = SystemClock()
    config = MessagingUsesConfig()

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, clock.now)

    async def write_all(mirror: MirrorConfig, prefix: str, start: datetime,
                        versions: dict[str, int]) -> float:
        began = time.perf_counter()
        for i in range(COUNT // SLICES):
            rid = f"{prefix}{i}"
            async with uow() as u:
                stored = await write_resource(u, _appointment(i, start), resource_id=rid,
                                              expected_version=versions.get(rid),
                                              now=clock.now(), mirror=mirror)
                await u.commit()
            versions[rid] = stored.version
        return time.perf_counter() - began

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    plain: dict[str, int] = {}
    watched: dict[str, int] = {}
    # Interleaved slices, so that the database's growth and the machine's drift hit both.
    without = with_watch = 0.0
    for part in range(SLICES):
        without += await write_all(MirrorConfig(), f"plain{part}-", start, plain)
        with_watch += await write_all(MirrorConfig(watchers=watchers(config)), f"a{part}-",
                                      start, watched)
    scheduler = CountingScheduler()
    reconciler = Reconciler(APPOINTMENTS, uow, scheduler, clock, config, NoAudit())
    latencies: list[float] = []

    async def reconcile_all() -> float:
        began = time.perf_counter()
        for rid in watched:
            t = time.perf_counter()
            await reconciler.reconcile(rid)
            latencies.append(time.perf_counter() - t)
        return time.perf_counter() - began

    first = await reconcile_all()
    reminders_first = scheduler.scheduled
    moved = 0.0
    for part in range(SLICES):
        moved += await write_all(MirrorConfig(watchers=watchers(config)), f"a{part}-",
                                 start + timedelta(days=1), watched)
    second = await reconcile_all()
    await engine.dispose()
    return {
        "appointments": COUNT,
        "writes_per_s": {"without_watch": COUNT / without, "with_watch": COUNT / with_watch,
                         "reschedule_with_watch": COUNT / moved},
        "reconcile": {"appointments_per_s_new": COUNT / first,
                      "reminders_per_s_new": reminders_first / first,
                      "appointments_per_s_rescheduled": COUNT / second,
                      "p50_ms": statistics.median(latencies) * 1000,
                      "p99_ms": sorted(latencies)[int(len(latencies) * 0.99) - 1] * 1000},
        "reminders_scheduled": scheduler.scheduled, "cancel_calls": scheduler.cancels,
    }


HL7_MESSAGES = 1000


async def _hl7_ingest(data_dir: Path) -> dict[str, Any]:
    """Messages/s of LabIngest.ingest with the lab-result-ready notice off and on."""
    from adapters.db.engine import create_engine
    from composition import Extensions, open_gateway
    from resolvers.messaging_uses.model import MessagingUsesConfig
    from resolvers.mpi.model import Identifier, PatientDraft
    from resolvers.principal import Caller, Principal
    from tests.hl7v2 import messages
    from tests.support import make_settings

    lab = Caller(Principal("bench-lab", frozenset({"lab", "clinician"})))
    seconds: dict[str, float] = {"off": 0.0, "on": 0.0}
    async with contextlib.AsyncExitStack() as stack:
        gateways = {}
        for name, template in (("off", ""), ("on", "results_ready")):
            settings = make_settings(data_dir / name, f"sqlite+aiosqlite:///{data_dir / name}"
                                     "/cari.sqlite3", messaging_uses=MessagingUsesConfig(
                                         lab_result_template=template))
            engine = create_engine(settings.database_url)
            gateway = await stack.enter_async_context(open_gateway(
                settings, engine, extensions=Extensions(message_scheduler=CountingScheduler())))
            await gateway.services.patients.create(lab, PatientDraft(
                identifiers=(Identifier("urn:oid:1.3.6.1.4.1.9999.1", "NID9988"),),
                family="Odhiambo", given=("Grace",)))
            gateways[name] = gateway
        # A new control id and new order numbers each time: new results, not corrections
        # of one result (those serialise on its Observations).
        text = messages.WORKED_EXAMPLE.replace("LAB000123", "{0}").replace(
            "PLC881", "P{0}").replace("FIL552", "F{0}")
        per_slice = HL7_MESSAGES // SLICES
        for part in range(SLICES):
            for name, gateway in gateways.items():
                began = time.perf_counter()
                await asyncio.gather(*(gateway.services.labs.ingest(
                    lab, text.format(f"B{part}-{i}")) for i in range(per_slice)))
                seconds[name] += time.perf_counter() - began
        counts = {name: (await gateway.outbox_store.counts()) for name, gateway in
                  gateways.items()}
    return {"messages": HL7_MESSAGES, "per_s": {k: HL7_MESSAGES / v for k, v in seconds.items()},
            "outbox_counts": counts}


def run(options: Options) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cari-bench-reminders-") as tmp:
        result = asyncio.run(_measure(Path(tmp)))
        result["hl7_ingest"] = asyncio.run(_hl7_ingest(Path(tmp)))
    path = write_result(NAME, result)
    w, r = result["writes_per_s"], result["reconcile"]
    print(f"[{NAME}] {COUNT} appointments: writes {w['without_watch']:.0f}/s without the watch "
          f"notice, {w['with_watch']:.0f}/s with it; reconciled {r['appointments_per_s_new']:.0f}"
          f" appointments/s ({r['reminders_per_s_new']:.0f} reminders/s), rescheduled "
          f"{r['appointments_per_s_rescheduled']:.0f}/s; p50 {r['p50_ms']:.2f} ms, p99 "
          f"{r['p99_ms']:.2f} ms per appointment")
    hl7 = result["hl7_ingest"]["per_s"]
    print(f"[{NAME}] HL7 ingest in process, 1 OBX, matched: {hl7['off']:.0f} msg/s with "
          f"lab-result-ready off, {hl7['on']:.0f} msg/s on")
    print(f"[{NAME}] wrote {path}")
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    w, r = result["writes_per_s"], result["reconcile"]
    return [[NAME, "reminders computed [sqlite]",
             f"{r['appointments_per_s_new']:.0f} appts/s, {r['reminders_per_s_new']:.0f} "
             f"reminders/s, p99 {r['p99_ms']:.1f} ms"],
            [NAME, "FHIR write + watch notice [sqlite]",
             f"{w['with_watch']:.0f}/s (without {w['without_watch']:.0f}/s)"],
            [NAME, "HL7 ingest in process [sqlite]",
             f"{result['hl7_ingest']['per_s']['on']:.0f} msg/s with lab-result-ready, "
             f"{result['hl7_ingest']['per_s']['off']:.0f} without"]]
