"""fhir_validate: ``$validate``-style throughput of ``FhirValidator.validate``, in process.

The data is the official FHIR R4 examples (npm ``hl7.fhir.r4.examples`` 4.0.1, fetched once
into ``$CARI_CACHE_DIR/fhir-r4-examples``, see ``tests/fhir/corpus.py``) of the 14 types the
gateway validates, parsed once. Left out: the Bundles that carry resources of other types
(the specification's definition Bundles of StructureDefinitions, ValueSets..., up to 35 MB,
and a few documents), which the validator reports as "not validated" entry by entry while
``model_validate`` would parse all of it, so the two loops would not do the same work.

Three loops over the same resources, interleaved pass by pass so drift hits all alike:

* ``bare``       ``R4B.<Type>.model_validate(resource)`` -- fhir.resources alone, every
                 error raised and discarded; what the validator builds on;
* ``validator``  ``FhirValidator().validate(resource)`` -- both layers, every issue collected;
* ``structure``  ``FhirValidator(rules=False).validate(resource)`` -- layer 1 only.

Reported: resources/s (median pass), ``ratio`` = validator time / bare time (median of the
per-pass ratios; 1.0 means the walk, the R4 corrections and the rules cost nothing on top
of pydantic), and the same figures per resource type. This is a measurement, not a test.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks._support import Options, write_result

NAME = "fhir_validate"


def _mix() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from adapters.fhir.validator import HANDLED_TYPES
    from tests.fhir.corpus import TYPES, examples_dir, iter_examples, load

    directory = examples_dir()
    mix: list[dict[str, Any]] = []
    left_out: list[str] = []
    for resource_type, path in iter_examples(directory, TYPES):
        resource = load(path)
        if resource_type == "Bundle" and any(
                isinstance(e, dict) and "resource" in e
                and (e["resource"] or {}).get("resourceType") not in HANDLED_TYPES
                for e in resource.get("entry", [])):
            left_out.append(path.name)
            continue
        mix.append(resource)
    return mix, {"directory": str(directory), "left_out": left_out}


def _timed(loop: Callable[[], None]) -> float:
    gc.collect()
    started = time.perf_counter()
    loop()
    return time.perf_counter() - started


def run(options: Options) -> dict[str, Any]:
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    from adapters.fhir.validator import FhirValidator

    mix, info = _mix()
    passes = max(3, options.runs)
    models = [get_fhir_model_class(r["resourceType"]) for r in mix]
    pairs = list(zip(models, mix, strict=True))
    full, structure = FhirValidator(), FhirValidator(rules=False)
    FhirValidator.warm_up()

    def bare() -> None:
        for model, resource in pairs:
            try:
                model.model_validate(resource)
            except ValidationError:
                pass

    def validator() -> None:
        for resource in mix:
            full.validate(resource)

    def structure_only() -> None:
        for resource in mix:
            structure.validate(resource)

    loops = {"bare": bare, "validator": validator, "structure": structure_only}
    print(f"[{NAME}] {len(mix)} official examples ({len(info['left_out'])} definition/"
          f"document Bundles left out), {passes} passes of each loop, interleaved")
    for loop in loops.values():  # warm-up: pydantic schemas, plans, caches
        loop()
    seconds: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(passes):
        for name, loop in loops.items():
            seconds[name].append(_timed(loop))
    ratios = [v / b for v, b in zip(seconds["validator"], seconds["bare"], strict=True)]
    result: dict[str, Any] = {
        "params": {"resources": len(mix), "passes": passes, **info},
        "resources_per_s": {name: len(mix) / statistics.median(s) for name, s in seconds.items()},
        "seconds_per_pass": seconds,
        "ratio_validator_to_bare": statistics.median(ratios),
        "ratio_structure_to_bare": statistics.median(
            [s / b for s, b in zip(seconds["structure"], seconds["bare"], strict=True)]),
        "issues_found": sum(len(full.validate(r)) for r in mix),
        "per_type": _per_type(pairs, full),
    }
    path = write_result(NAME, result)
    rate = result["resources_per_s"]
    print(f"[{NAME}] bare model_validate {rate['bare']:.0f} resources/s, FhirValidator.validate "
          f"{rate['validator']:.0f}/s (structure only {rate['structure']:.0f}/s): ratio "
          f"{result['ratio_validator_to_bare']:.2f}x the bare time")
    for resource_type, figures in result["per_type"].items():
        print(f"  {resource_type:20} n={figures['n']:3}  bare {figures['bare_per_s']:7.0f}/s  "
              f"validator {figures['validator_per_s']:7.0f}/s  ratio {figures['ratio']:.2f}")
    print(f"[{NAME}] wrote {path}")
    return result


def _per_type(pairs: list[tuple[Any, dict[str, Any]]], full: Any) -> dict[str, dict[str, Any]]:
    from pydantic import ValidationError

    by_type: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for model, resource in pairs:
        by_type.setdefault(resource["resourceType"], []).append((model, resource))
    out: dict[str, dict[str, Any]] = {}
    for resource_type, group in by_type.items():
        def bare(group: list[tuple[Any, dict[str, Any]]] = group) -> None:
            for model, resource in group:
                try:
                    model.model_validate(resource)
                except ValidationError:
                    pass

        def validator(group: list[tuple[Any, dict[str, Any]]] = group) -> None:
            for _model, resource in group:
                full.validate(resource)

        b = statistics.median(_timed(bare) for _ in range(3))
        v = statistics.median(_timed(validator) for _ in range(3))
        out[resource_type] = {"n": len(group), "bare_per_s": len(group) / b,
                              "validator_per_s": len(group) / v, "ratio": v / b}
    return out


def rows(result: dict[str, Any]) -> list[list[str]]:
    rate = result["resources_per_s"]
    return [[NAME, f"{result['params']['resources']} official R4 examples, in process",
             f"validator {rate['validator']:.0f}/s vs bare model_validate {rate['bare']:.0f}/s "
             f"(ratio {result['ratio_validator_to_bare']:.2f})"]]
