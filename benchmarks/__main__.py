"""``python -m benchmarks [name ...]``: run the named benchmarks (default: all), then
print a summary table. Results also go to ``benchmarks/results/<name>.json``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from typing import Any

from benchmarks import BENCHMARKS
from benchmarks._support import Options, table


def _int_list(raw: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in raw.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 16 or 1,16: {raw!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive numbers: {raw!r}")
    return values


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="name",
                        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    defaults = Options()
    parser.add_argument("--runs", type=int, default=defaults.runs,
                        help="cold_start: launches per variant (default %(default)s)")
    parser.add_argument("--duration", type=float, default=defaults.duration,
                        help="http_throughput: measured seconds per scenario (default "
                             "%(default)s)")
    parser.add_argument("--warmup", type=float, default=defaults.warmup,
                        help="http_throughput: discarded warm-up seconds (default %(default)s)")
    parser.add_argument("--connections", type=_int_list,
                        default=",".join(map(str, defaults.connections)),
                        help="http_throughput: concurrent connections, a comma list runs each "
                             "(e.g. 1,16 adds unloaded latency; default %(default)s)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "httpx"), default=defaults.loadgen,
                        help="load generator (default: wrk if installed, else httpx)")
    parser.add_argument("--postgres", choices=("auto", "skip", "require"),
                        default=defaults.postgres,
                        help="PostgreSQL scenario: if reachable (auto), never, or fail without")
    parser.add_argument("--profile", action="store_true",
                        help="http_throughput: an extra py-spy-sampled run per scenario")
    parser.add_argument("--scenarios", default="",
                        help="http_throughput: a comma list of scenarios to run (default: all)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary data dirs and server logs")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    options = Options(runs=args.runs, duration=args.duration, warmup=args.warmup,
                      connections=args.connections, loadgen=args.loadgen,
                      postgres=args.postgres, profile=args.profile, keep=args.keep,
                      scenarios=tuple(s for s in args.scenarios.split(",") if s))
    rows: list[list[str]] = []
    failed: list[str] = []
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    for name in args.names or BENCHMARKS:
        module: Any = importlib.import_module(f"benchmarks.{name}")
        try:
            rows += module.rows(module.run(options))
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            rows.append([name, "-", "FAILED (see above)"])
        print()
    print(f"Summary ({os.cpu_count()} CPUs, load average {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after; {time.perf_counter() - started:.0f} s)")
    print(table(["benchmark", "scenario", "result"], rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
