"""mpi_match_http: ``POST /api/fhir/Patient/$match`` latency over HTTP, 100,000 patients, SQLite.

What a lab-facing integrator sees: one request at a time (no concurrency) to a real gateway
process (``cli.py serve``, embedded SQLite under a temporary CARI_DATA_DIR). The register is
the synthetic African register (benchmarks/synthetic_register.py), loaded before the gateway
starts, in transactions of BATCH patients through the same pieces the FHIR write path uses:
the FHIR repository's multi-row insert (documents, history, search index), the MPI patient
and identifier rows, and ``adapters.mpi.bulk_index`` with the match record
``index_patient`` would build (name, birth date, sex, phone and the FHIR address). Not 100k
HTTP calls: loading is not what is measured.

The queries are the register's lab records (demographics only: names, birth date, sex,
phone, address; copies re-typed with clinic errors, and unregistered relatives), sent as a
bare FHIR Patient. Reported: p50/p99/mean/max over the measured requests (after a warm-up),
and the machine's load average before and after.

    python -m benchmarks mpi_match_http
    python -m benchmarks.mpi_match_http --patients 100000 --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from datetime import UTC, date, datetime
from typing import Any

from benchmarks._support import Options, cli, percentile, running_gateway, scratch_dir, write_result

NAME = "mpi_match_http"
SEED = 20260417
BATCH = 5_000
WARMUP = 100
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def fhir_patient(person: Any, identifier: str | None = None) -> dict[str, Any]:
    """A register person (benchmarks.synthetic_register.Person) as a FHIR Patient."""
    doc: dict[str, Any] = {"resourceType": "Patient"}
    if identifier:
        doc["identifier"] = [{"system": "urn:bench:clinic", "value": identifier}]
    name: dict[str, Any] = {"family": person.family} if person.family else {}
    if person.given:
        name["given"] = list(person.given)
    if name:
        doc["name"] = [name]
    if isinstance(person.birth_date, date):
        doc["birthDate"] = person.birth_date.isoformat()
    if person.sex:
        doc["gender"] = person.sex
    if person.phone:
        doc["telecom"] = [{"system": "phone", "value": person.phone}]
    if person.address:
        *lines, town = [part.strip() for part in person.address.split(",")]
        doc["address"] = [{"line": lines, "city": town} if lines else {"city": town}]
    return doc


async def load_register(database_url: str, patients: dict[str, Any]) -> float:
    """Store the register as the FHIR write path would, BATCH patients per transaction."""
    from sqlalchemy import insert

    from adapters.db.engine import create_engine, session_factory
    from adapters.db.tables import PatientIdentifierRow, PatientRow
    from adapters.db.uow import SqlUnitOfWork
    from adapters.mpi import bulk_index
    from composition import migrate_engine
    from resolvers.fhir.model import StoredResource
    from resolvers.fhir.search_params import index_resource, sort_date
    from resolvers.mpi.fhir_mapping import draft_from_fhir
    from resolvers.mpi.model import Patient
    from resolvers.mpi.scoring.record import fhir_address_text, record_from_patient

    engine = create_engine(database_url)
    await migrate_engine(engine)
    rows_p, rows_i = PatientRow.__table__, PatientIdentifierRow.__table__  # type: ignore[attr-defined]
    started = time.perf_counter()
    ids = list(patients)
    for start in range(0, len(ids), BATCH):
        async with SqlUnitOfWork(session_factory(engine), lambda: NOW) as uow:
            stored, mpi, records = [], [], []
            for pid in ids[start:start + BATCH]:
                doc = fhir_patient(patients[pid], identifier=pid)
                resource = StoredResource("Patient", pid, 1, NOW, False,
                                          {**doc, "id": pid, "meta": {"versionId": "1"}})
                index = index_resource(resource.document)
                stored.append((resource, index, sort_date(resource.document, index)))
                draft = draft_from_fhir(resource.document)
                patient = Patient(id=pid, identifiers=draft.identifiers, family=draft.family,
                                  given=draft.given, birth_date=draft.birth_date,
                                  gender=draft.gender, phone=draft.phone, organization_id=None,
                                  version=1, created_at=NOW, updated_at=NOW)
                mpi.append(patient)
                records.append((pid, record_from_patient(
                    patient, address=fhir_address_text(resource.document))))
            await uow.fhir.create_many(stored)
            session = uow._session  # bulk rows beside the repositories, in one transaction
            await session.execute(insert(rows_p), [
                {"id": p.id, "family": p.family, "given": list(p.given),
                 "birth_date": p.birth_date, "gender": p.gender, "phone": p.phone,
                 "organization_id": None, "version": 1, "created_at": NOW, "updated_at": NOW}
                for p in mpi])
            await session.execute(insert(rows_i), [
                {"system": i.system, "value": i.value, "patient_id": p.id, "position": n}
                for p in mpi for n, i in enumerate(p.identifiers)])
            await bulk_index(session, records)
            await uow.commit()
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed


def _profile(base_url: str, admin_token: str) -> float:
    """Profile the register first, as the gateway does by itself once after a start on a
    register without a profile: the lookups then measure the steady state."""
    import httpx

    started = time.perf_counter()
    r = httpx.post(f"{base_url}/api/mpi/profile", timeout=120,
                   headers={"Authorization": f"Bearer {admin_token}"})
    if r.status_code != 200:
        raise RuntimeError(f"profile answered {r.status_code}: {r.text[:300]}")
    print(f"[{NAME}] register profile: {r.json()['data']['kind']}")
    return time.perf_counter() - started


def _measure(base_url: str, token: str, queries: list[dict[str, Any]]) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    latencies: list[float] = []
    grades: dict[str, int] = {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for n, query in enumerate(queries):
            started = time.perf_counter()
            response = client.post("/api/fhir/Patient/$match", json=query)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"$match answered {response.status_code}: "
                                   f"{response.text[:500]}")
            if n >= WARMUP:
                latencies.append(elapsed)
                entries = response.json().get("entry") or []
                top = entries[0]["search"]["extension"][0]["valueCode"] if entries else "none"
                grades[top] = grades.get(top, 0) + 1
    return {"requests": len(latencies), "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99), "mean_ms": statistics.fmean(latencies),
            "max_ms": max(latencies), "top_grades": grades}


def run(options: Options) -> dict[str, Any]:
    from adapters.settings import load_settings
    from benchmarks.synthetic_register import generate

    size = int(options.extra.get("patients", 100_000))
    count = int(options.extra.get("requests", 2_000))
    register = generate(size, SEED)
    queries = [fhir_patient(p) for p in list(register.queries.values())[:count + WARMUP]]
    load_before = os.getloadavg()
    with scratch_dir(NAME, options.keep) as tmp:
        data_dir = tmp / "data"
        data_dir.mkdir()
        database_url = load_settings({"CARI_DATA_DIR": str(data_dir)}).database_url
        load_s = asyncio.run(load_register(database_url, register.patients))
        print(f"[{NAME}] loaded {size} patients in {load_s:.0f} s ({database_url.split(':')[0]})")
        with running_gateway(data_dir, tmp) as gateway:
            token = cli(gateway.env, "token", "--sub", "bench", "--roles", "clinician")
            profile_s = _profile(gateway.base_url, cli(gateway.env, "token", "--sub",
                                                       "bench-admin", "--roles", "admin"))
            figures = _measure(gateway.base_url, token, queries)
            figures["profile_s"] = profile_s
            figures["server_rss_mb"] = gateway.rss_mb()
    figures.update({"patients": size, "load_s": load_s, "database": "sqlite",
                    "load_average_before": load_before, "load_average_after": os.getloadavg(),
                    "cpus": os.cpu_count()})
    print(f"[{NAME}] {figures['requests']} sequential $match: p50 {figures['p50_ms']:.1f} ms, "
          f"p99 {figures['p99_ms']:.1f} ms, mean {figures['mean_ms']:.1f} ms, max "
          f"{figures['max_ms']:.1f} ms; top grades {figures['top_grades']}; profile taken "
          f"first in {figures['profile_s']:.1f} s; load average "
          f"{load_before[0]:.2f} before, {figures['load_average_after'][0]:.2f} after "
          f"({os.cpu_count()} CPUs)")
    print(f"[{NAME}] wrote {write_result(NAME, figures)}")
    return figures


def rows(result: dict[str, Any]) -> list[list[str]]:
    return [[NAME, f"{result['patients']} patients, sqlite, HTTP, 1 at a time",
             f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms"]]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mpi_match_http")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    run(Options(keep=args.keep, extra={"patients": args.patients, "requests": args.requests}))
