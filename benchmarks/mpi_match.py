"""mpi_match: latency of one MPI lookup (``SqlPatientMatcher.match``) with 100,000 patients.

In process (it measures the matcher and its indexed read, not HTTP). Synthetic
patients with names from East, West, Southern and Horn of Africa registers, a birth date,
sex, phone, village/town and a national id; the index is built with multi-row inserts
(patients, identifiers, then ``adapters.mpi.bulk_index``), not one patient at a time.
After a first lookup pass with the default parameters, u is re-estimated by EM from the index
(``adapters.mpi.reestimate``) and the lookups run again: both accuracies are reported. The
lookups are of three kinds, interleaved: a known patient re-typed with spelling
variants and typos (no identifier), the same by trusted identifier, and a person not in
the register. Reported: build time, p50/p99/mean per lookup, candidates read, and the
share of variant lookups whose top answer is the right patient at certain/probable.
On SQLite, and on PostgreSQL when reachable (``--postgres``). A measurement, not a test.

    python -m benchmarks mpi_match
    python -m benchmarks.mpi_match --patients 20000 --lookups 500
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks._support import Options, percentile, write_result

NAME = "mpi_match"
NID = "urn:cari:nid"

GIVEN_F = ["Achieng", "Akinyi", "Atieno", "Wanjiku", "Wambui", "Njeri", "Nyambura", "Grace",
           "Faith", "Mercy", "Aisha", "Fatuma", "Khadija", "Mariam", "Zainab", "Halima",
           "Amina", "Fatoumata", "Aissatou", "Awa", "Adwoa", "Akua", "Abena", "Ama", "Efua",
           "Yaa", "Ngozi", "Chiamaka", "Adaeze", "Folake", "Funmilayo", "Yetunde", "Bukola",
           "Thandiwe", "Nomvula", "Lerato", "Palesa", "Nokuthula", "Zanele", "Tsion",
           "Meseret", "Hiwot", "Selam", "Almaz", "Tigist", "Rahel", "Esther", "Ruth"]
GIVEN_M = ["Otieno", "Odhiambo", "Ochieng", "Kamau", "Mwangi", "Kimani", "Njoroge", "Kipchoge",
           "Juma", "Hamisi", "Baraka", "Mohammed", "Ibrahim", "Yusuf", "Ousmane", "Moussa",
           "Mamadou", "Abdoulaye", "Boubacar", "Kwame", "Kofi", "Kwaku", "Yaw", "Kojo",
           "Chinedu", "Emeka", "Obinna", "Adebayo", "Oluwaseun", "Tunde", "Babatunde",
           "Thabo", "Sipho", "Themba", "Bongani", "Tshepo", "Mandla", "Abebe", "Tesfaye",
           "Haile", "Getachew", "Dawit", "Yohannes", "Solomon", "Daniel", "Peter", "John"]
FAMILY = ["Odhiambo", "Otieno", "Ochieng", "Onyango", "Owino", "Kamau", "Mwangi", "Kariuki",
          "Njoroge", "Wanjiru", "Kiprono", "Chebet", "Mutua", "Musyoka", "Hassan", "Ali",
          "Omondi", "Diallo", "Bah", "Barry", "Sow", "Diop", "Ndiaye", "Fall", "Camara",
          "Traore", "Coulibaly", "Keita", "Toure", "Cisse", "Mensah", "Asante", "Owusu",
          "Boateng", "Agyemang", "Osei", "Appiah", "Okafor", "Okeke", "Nwosu", "Eze",
          "Adeyemi", "Adebayo", "Ogunleye", "Balogun", "Abubakar", "Bello", "Musa",
          "Ndlovu", "Dlamini", "Nkosi", "Khumalo", "Mokoena", "Tshabalala", "Molefe",
          "Mahlangu", "Sithole", "Tesfaye", "Bekele", "Tadesse", "Haile", "Gebremedhin",
          "Wolde", "Alemu", "Mulugeta", "Kebede", "Nakato", "Namubiru", "Mugisha", "Tumusiime",
          "Uwimana", "Niyonzima", "Habimana", "Banda", "Phiri", "Mwale", "Zulu", "Tembo"]
PLACES = ["Kibera", "Kisumu", "Eldoret", "Nakuru", "Machakos", "Thika", "Mombasa", "Garissa",
          "Kumasi", "Tamale", "Accra", "Cape Coast", "Ibadan", "Kano", "Enugu", "Abeokuta",
          "Dakar", "Thies", "Kaolack", "Conakry", "Labe", "Bamako", "Sikasso", "Soweto",
          "Alexandra", "Durban", "Polokwane", "Bulawayo", "Gondar", "Bahir Dar", "Hawassa",
          "Mekelle", "Gulu", "Mbarara", "Kigali", "Huye", "Lilongwe", "Blantyre", "Lusaka",
          "Ndola", "Arusha", "Mwanza", "Dodoma", "Zanzibar"]
VARIANTS = {"Mohammed": ["Muhammad", "Mohamed", "Mamadou"], "Ousmane": ["Usman"],
            "Moussa": ["Musa"], "Yusuf": ["Youssouf"], "Kwame": ["Kouame"],
            "Kwaku": ["Kouakou"], "Yaw": ["Yao"], "Aisha": ["Aicha", "Aissatou"],
            "Fatuma": ["Fatoumata", "Fatima"], "Khadija": ["Hadija", "Hadiza"],
            "Tshabalala": ["Chabalala"], "Ndlovu": ["Ndhlovu"], "Diallo": ["Jallow"],
            "Camara": ["Kamara"], "Cisse": ["Sisse"], "Coulibaly": ["Kulibali"],
            "Agyemang": ["Agyeman"], "Tesfaye": ["Tesfay"], "Wolde": ["Welde"],
            "Gebremedhin": ["Ghebremedhin"], "Haile": ["Hayle"], "Kimani": ["Kimaani"]}
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _person(rng: random.Random, n: int) -> dict[str, Any]:
    female = rng.random() < 0.52
    given = [rng.choice(GIVEN_F if female else GIVEN_M)]
    if rng.random() < 0.4:
        given.append(rng.choice(GIVEN_F if female else GIVEN_M))
    dob = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 84))
    if rng.random() < 0.1:
        dob = date(dob.year, 1, 1)  # imputed birthdays, common in registers
    return {"id": f"bp{n:07d}", "family": rng.choice(FAMILY), "given": given, "birth_date": dob,
            "gender": "female" if female else "male",
            "phone": f"+2547{rng.randrange(10**8):08d}" if rng.random() < 0.7 else None,
            "nid": f"{rng.randrange(10**8):08d}-{n}", "address": rng.choice(PLACES)}


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + rng.choice("aeioukmnrt") + word[i + 1:]


def _variant(rng: random.Random, name: str) -> str:
    if name in VARIANTS and rng.random() < 0.7:
        return rng.choice(VARIANTS[name])
    return _typo(rng, name) if rng.random() < 0.3 else name


def _queries(rng: random.Random, people: list[dict[str, Any]], count: int) -> list[tuple[str, Any]]:
    from resolvers.mpi.matching import MatchCandidate
    from resolvers.mpi.model import Identifier

    out: list[tuple[str, Any]] = []
    for n in range(count):
        p = rng.choice(people)
        kind = ("variant", "identifier", "absent")[n % 3]
        if kind == "identifier":
            out.append((p["id"], MatchCandidate(
                identifiers=(Identifier(NID, p["nid"]),), family=p["family"], given=tuple(p["given"]),
                birth_date=p["birth_date"], gender=p["gender"],
                trusted_identifier_systems=frozenset({NID}))))
        elif kind == "variant":
            dob = p["birth_date"]
            if rng.random() < 0.2 and dob.day <= 12:
                dob = date(dob.year, dob.day, dob.month)  # day and month transposed
            out.append((p["id"], MatchCandidate(
                family=_variant(rng, p["family"]), given=tuple(_variant(rng, g) for g in p["given"]),
                birth_date=dob, gender=p["gender"], phone=p["phone"], address=p["address"])))
        else:
            other = _person(rng, 10**7 + n)
            out.append(("", MatchCandidate(family=other["family"], given=tuple(other["given"]),
                                           birth_date=other["birth_date"], gender=other["gender"])))
    return out


async def _build(url: str, people: list[dict[str, Any]]) -> float:
    from sqlalchemy import insert

    from adapters.db.engine import create_engine, session_factory
    from adapters.db.tables import PatientIdentifierRow, PatientRow
    from adapters.mpi import bulk_index
    from composition import migrate_engine
    from resolvers.mpi.model import Identifier
    from resolvers.mpi.scoring.record import build_record

    engine = create_engine(url)
    await migrate_engine(engine)
    started = time.perf_counter()
    patients, idents = PatientRow.__table__, PatientIdentifierRow.__table__  # type: ignore[attr-defined]
    async with session_factory(engine)() as session:
        for i in range(0, len(people), 2000):
            chunk = people[i:i + 2000]
            await session.execute(insert(patients), [
                {"id": p["id"], "family": p["family"], "given": p["given"],
                 "birth_date": p["birth_date"], "gender": p["gender"], "phone": p["phone"],
                 "organization_id": None, "version": 1, "created_at": NOW, "updated_at": NOW}
                for p in chunk])
            await session.execute(insert(idents), [
                {"system": NID, "value": p["nid"], "patient_id": p["id"], "position": 0}
                for p in chunk])
        await bulk_index(session, (
            (p["id"], build_record(given=p["given"], family=p["family"], birth_date=p["birth_date"],
                                   gender=p["gender"], phone=p["phone"], address=p["address"],
                                   identifiers=(Identifier(NID, p["nid"]),)))
            for p in people))
        await session.commit()
    elapsed = time.perf_counter() - started
    # What a running gateway's StatisticsKeeper does after a bulk load (PostgreSQL only).
    from adapters.db.statistics import StatisticsKeeper
    keeper = StatisticsKeeper(engine)
    for _ in range(25 if keeper.applies else 0):  # counts are published within a second
        if await keeper.check():
            break
        await asyncio.sleep(0.2)
    await engine.dispose()
    return elapsed


async def _reestimate(url: str) -> float:
    from adapters.db.engine import create_engine, session_factory
    from adapters.mpi import reestimate

    engine = create_engine(url)
    started = time.perf_counter()
    async with session_factory(engine)() as session:
        await reestimate(session, sample_size=2000, save=True)
        await session.commit()
    await engine.dispose()
    return time.perf_counter() - started


async def _lookups(url: str, queries: list[tuple[str, Any]], *, stored: bool) -> dict[str, Any]:
    from adapters.db.engine import create_engine, session_factory
    from adapters.db.match_index import candidates
    from adapters.mpi import SqlPatientMatcher
    from resolvers.mpi.matching import MatchGrade
    from resolvers.mpi.scoring.record import record_from_candidate

    engine = create_engine(url)
    sessions = session_factory(engine)
    matcher = SqlPatientMatcher(sessions)
    if stored:
        await matcher.load_parameters()
    linked = (MatchGrade.CERTAIN, MatchGrade.PROBABLE)
    for _, q in queries[:50]:  # warm-up: caches, prepared plans, page cache
        await matcher.match(q)
    latencies: dict[str, list[float]] = {"variant": [], "identifier": [], "absent": []}
    hits = {"variant": 0, "identifier": 0, "absent": 0}
    read: list[int] = []
    for n, (truth, q) in enumerate(queries):
        kind = ("variant", "identifier", "absent")[n % 3]
        started = time.perf_counter()
        matches = await matcher.match(q)
        latencies[kind].append((time.perf_counter() - started) * 1000)
        top = matches[0] if matches else None
        if kind == "absent":
            hits[kind] += top is None or top.grade not in linked
        else:
            hits[kind] += top is not None and top.patient_id == truth and top.grade in linked
    async with sessions() as session:
        for _, q in queries[:300]:
            read.append(len(await candidates(session, record_from_candidate(q))))
    await engine.dispose()
    every = [v for values in latencies.values() for v in values]
    return {
        "lookups": len(every),
        "p50_ms": percentile(every, 50), "p99_ms": percentile(every, 99),
        "mean_ms": statistics.fmean(every),
        "by_kind": {k: {"n": len(v), "p50_ms": percentile(v, 50), "p99_ms": percentile(v, 99),
                        "correct": hits[k] / len(v)} for k, v in latencies.items() if v},
        "candidates_read": {"mean": statistics.fmean(read), "max": max(read)},
    }


def _scenario(url: str, people: list[dict[str, Any]], queries: list[tuple[str, Any]],
              database: str) -> dict[str, Any]:
    build = asyncio.run(_build(url, people))
    print(f"[{NAME}] {database}: indexed {len(people)} patients in {build:.1f} s (bulk)")
    defaults = asyncio.run(_lookups(url, queries, stored=False))
    em_seconds = asyncio.run(_reestimate(url))
    print(f"[{NAME}] {database}: u re-estimated by EM from 2000 sampled patients in "
          f"{em_seconds:.1f} s")
    figures = asyncio.run(_lookups(url, queries, stored=True))
    figures.update({"database": database, "build_s": build, "reestimate_s": em_seconds,
                    "with_defaults": {
                        "p50_ms": defaults["p50_ms"], "p99_ms": defaults["p99_ms"],
                        "correct": {k: v["correct"] for k, v in defaults["by_kind"].items()}}})
    kinds = ", ".join(f"{k} p50 {v['p50_ms']:.1f} ms correct {v['correct']:.3f}"
                      for k, v in figures["by_kind"].items())
    print(f"[{NAME}] {database}: {figures['lookups']} lookups p50 {figures['p50_ms']:.1f} ms, "
          f"p99 {figures['p99_ms']:.1f} ms, mean {figures['mean_ms']:.1f} ms; candidates read "
          f"mean {figures['candidates_read']['mean']:.0f} max {figures['candidates_read']['max']}"
          f"\n    with re-estimated u: {kinds}"
          f"\n    with the default parameters (before re-estimation): correct "
          f"{figures['with_defaults']['correct']}")
    return figures


def run(options: Options) -> dict[str, Any]:
    patients = int(options.extra.get("patients", 100_000))
    lookups = int(options.extra.get("lookups", 1500))
    rng = random.Random(20260301)
    people = [_person(rng, n) for n in range(patients)]
    queries = _queries(rng, people, lookups)
    scenarios = []
    with tempfile.TemporaryDirectory(prefix="cari-mpi-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'mpi.sqlite3'}"
        scenarios.append(_scenario(url, people, queries, "sqlite"))
    skipped = None
    if options.postgres != "skip":
        from benchmarks.http_throughput import _postgres_problem, fresh_postgres_database

        problem = _postgres_problem()
        if problem is None:
            with fresh_postgres_database() as pg_url:
                scenarios.append(_scenario(pg_url, people, queries, "postgresql"))
        elif options.postgres == "require":
            raise RuntimeError(f"PostgreSQL is not reachable: {problem}")
        else:
            skipped = problem
            print(f"[{NAME}] PostgreSQL skipped: {problem}")
    result = {"params": {"patients": patients, "lookups": lookups, "max_candidates": 200},
              "scenarios": scenarios, "postgres_skipped": skipped}
    path = write_result(NAME, result)
    print(f"[{NAME}] wrote {path}")
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    return [[NAME, f"{result['params']['patients']} patients, {s['database']}",
             f"lookup p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms "
             f"(build {s['build_s']:.0f} s)"] for s in result["scenarios"]]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mpi_match")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=1500)
    parser.add_argument("--postgres", choices=("auto", "skip", "require"), default="auto")
    args = parser.parse_args()
    run(Options(postgres=args.postgres,
                extra={"patients": args.patients, "lookups": args.lookups}))
