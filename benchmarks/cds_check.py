"""cds_check: the drug-interaction checker on 5 and 20 medications, in process.

What a CDS Hooks call spends in the knowledge base: ``InteractionChecker.check`` on the
medications of one request (recognition of each, every pair, duplicate therapy and the
pregnancy entries), after ``InteractionChecker.from_data()`` has loaded, validated and
indexed the data once (its time is reported too). Three ways of sending the same list:

* ``names``        free-text names seen before (the recogniser's name cache answers);
* ``names_fresh``  free-text names never seen before (a different strength each call, so
                   every name is normalised from scratch: the worst case);
* ``codes``        RxNorm/ATC codings (dict lookups only).

Each call is timed alone, wall clock (``time.perf_counter_ns``) and this thread's CPU time
(``time.thread_time_ns``: on a shared machine the wall-clock tail is mostly waiting for a core),
``--runs`` x 2,000 calls per case after 500 warm-up calls; p50, p99 and max in microseconds.
A measurement, not a test: nothing here asserts a budget (the issue's is well under 1 ms of a
20 ms p99 HTTP call).

    .venv/bin/python -m benchmarks cds_check
"""

from __future__ import annotations

import gc
import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._support import Options, percentile, write_result

NAME = "cds_check"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"

# Typical HIV/TB/malaria co-treatment plus chronic medicines, as a clinic would send them.
TWENTY_NAMES = [
    "TLD (tenofovir disoproxil/lamivudine/dolutegravir) 300/300/50 mg", "RHZE 150/75/400/275 mg",
    "Co-trimoxazole 960 mg tablet", "Fluconazole 200 mg capsule", "Coartem 20/120 mg",
    "Ibuprofen 400 mg", "Paracetamol 500 mg", "Warfarin 5 mg", "Amiodarone 200 mg",
    "Clarithromycin 500 mg", "Omeprazole 20 mg", "Metformin 500 mg", "Simvastatin 20 mg",
    "Enalapril 10 mg", "Spironolactone 25 mg", "Haloperidol 5 mg", "Methotrexate 2.5 mg",
    "Ferrous sulfate 200 mg", "Levonorgestrel/ethinylestradiol 150/30 mcg", "Isoniazid 300 mg",
]
TWENTY_CODES = [
    (RXNORM, "1433868"), (ATC, "J04AM06"), (RXNORM, "10831"), (RXNORM, "4450"), (ATC, "P01BF01"),
    (RXNORM, "5640"), (RXNORM, "161"), (RXNORM, "11289"), (RXNORM, "703"), (RXNORM, "21212"),
    (RXNORM, "7646"), (RXNORM, "6809"), (RXNORM, "36567"), (RXNORM, "3827"), (RXNORM, "9997"),
    (RXNORM, "5093"), (RXNORM, "6851"), (ATC, "B03AA07"), (ATC, "G03AA07"), (RXNORM, "6038"),
]


def _cases(size: int) -> dict[str, Callable[[int], Sequence[Any]]]:
    from resolvers.cds.model import Coding, MedicationFacts

    names = TWENTY_NAMES[:size]
    by_name = [MedicationFacts(text=t, reference=f"MedicationRequest/{n}") for n, t in enumerate(names)]
    by_code = [MedicationFacts(codings=(Coding(s, c),), reference=f"MedicationRequest/{n}")
               for n, (s, c) in enumerate(TWENTY_CODES[:size])]

    def fresh(call: int) -> list[MedicationFacts]:
        # "Warfarin 5 mg" -> "Warfarin 5 mg (lot 123)": same drug, a name never seen before
        return [MedicationFacts(text=f"{t} (lot {call})", reference=f"MedicationRequest/{n}")
                for n, t in enumerate(names)]

    return {"names": lambda _call: by_name, "names_fresh": fresh, "codes": lambda _call: by_code}


def _time_calls(check: Callable[[Sequence[Any]], Any], make: Callable[[int], Sequence[Any]],
                calls: int, counter: itertools.count[int]) -> tuple[list[float], list[float]]:
    """Wall and CPU (this thread's) microseconds of each call: on a shared machine the wall
    time's tail is mostly waiting for a core, which the CPU time leaves out."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(calls):
        meds = make(next(counter))
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        check(meds)
        cpu.append((time.thread_time_ns() - started_cpu) / 1000)
        wall.append((time.perf_counter_ns() - started) / 1000)
    return wall, cpu


def run(options: Options) -> dict[str, Any]:
    from resolvers.cds.knowledge import InteractionChecker

    started = time.perf_counter()
    checker = InteractionChecker.from_data()
    load_ms = (time.perf_counter() - started) * 1000
    kb = checker.knowledge_base
    result: dict[str, Any] = {"params": {"runs": options.runs, "calls_per_run": 2000},
                              "load_and_index_ms": load_ms, "knowledge_base": {
                                  "version": checker.version, "ingredients": len(kb.ingredients),
                                  "products": len(kb.products), "interactions": len(kb.interactions)},
                              "cases": {}}
    print(f"[{NAME}] knowledge base {checker.version}: loaded, validated and indexed in {load_ms:.1f} ms")

    def check(meds: Sequence[Any]) -> Any:
        return checker.check(meds, pregnant=True)

    counter = itertools.count()
    for size in (5, 20):
        for label, make in _cases(size).items():
            findings = len(check(make(next(counter))))
            _time_calls(check, make, 500, counter)  # warm-up
            gc.collect()
            samples: list[float] = []
            cpu: list[float] = []
            for _ in range(max(1, options.runs)):
                wall_run, cpu_run = _time_calls(check, make, 2000, counter)
                samples += wall_run
                cpu += cpu_run
            figures = {"medications": size, "findings": findings, "calls": len(samples),
                       "p50_us": percentile(samples, 50), "p99_us": percentile(samples, 99),
                       "max_us": max(samples), "cpu_p50_us": percentile(cpu, 50),
                       "cpu_p99_us": percentile(cpu, 99)}
            result["cases"][f"{size}_{label}"] = figures
            print(f"[{NAME}] {size} medications by {label}: {findings} findings, "
                  f"p50 {figures['p50_us']:.0f} us, p99 {figures['p99_us']:.0f} us, "
                  f"max {figures['max_us']:.0f} us; CPU p50 {figures['cpu_p50_us']:.0f} us, "
                  f"p99 {figures['cpu_p99_us']:.0f} us ({len(samples)} calls)")
    path = write_result(NAME, result)
    print(f"[{NAME}] wrote {path}")
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    return [[NAME, case, f"{f['findings']} findings: p50 {f['p50_us']:.0f} us, p99 {f['p99_us']:.0f} us "
                         f"(CPU p99 {f['cpu_p99_us']:.0f} us)"]
            for case, f in result["cases"].items()]


if __name__ == "__main__":
    run(Options())
