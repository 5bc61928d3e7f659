"""dicom_access: POST /api/clinical/dicom/access latency against a real Orthanc, and the
proxied WADO-RS metadata fetch, over HTTP on a running gateway.

A gateway process (``cli.py serve``, SQLite) and an Orthanc with its DICOMweb plugin run on
loopback; one patient's study (CT 3 + MR 2 instances, built by pydicom) is loaded. Measured,
one request at a time on a keep-alive connection, after ``WARMUP`` discarded calls:

* ``access``: the access call (MPI read, two QIDO-RS queries to Orthanc, token, ImagingStudy
  built and validated, audit rows committed);
* ``metadata via proxy``: ``GET <dicomweb_root>/studies/<uid>/metadata`` (token check, audit
  once, the PACS's DICOM JSON with its URLs rewritten);
* ``metadata direct``: the same request straight to Orthanc, for the proxy's share.

    .venv/bin/python -m benchmarks.dicom_access [--requests 300]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import httpx

from benchmarks._support import (
    Options,
    cli,
    percentile,
    running_gateway,
    scratch_dir,
    write_result,
)
from tests.imaging.dicom_files import make_study
from tests.imaging.orthanc import started

NAME = "dicom_access"
WARMUP = 20
PACS_MRN = "urn:cari:bench:pacs-mrn"


def _timed(client: httpx.Client, count: int, call: Any) -> list[float]:
    for _ in range(WARMUP):
        call(client)
    times = []
    for _ in range(count):
        started_at = time.perf_counter()
        call(client)
        times.append(time.perf_counter() - started_at)
    return times


def _figures(times: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(times, 50) * 1000, "p99_ms": percentile(times, 99) * 1000,
            "mean_ms": sum(times) / len(times) * 1000, "n": len(times)}


def run(options: Options) -> dict[str, Any]:
    count = int(options.extra.get("requests", 300))
    load_before = os.getloadavg()
    with scratch_dir(NAME, options.keep) as tmp:
        orthanc = started(tmp / "orthanc")
        try:
            study = make_study("BENCH-MRN-1")
            orthanc.upload(*(i.data for i in study.instances))
            data_dir = tmp / "data"
            data_dir.mkdir()
            with running_gateway(
                    data_dir, tmp, CARI_PACS_BASE_URL=orthanc.dicomweb,
                    CARI_PACS_WADO_URI_URL=orthanc.wado, CARI_OUTBOUND_ALLOWLIST=orthanc.address,
                    CARI_PACS_PATIENT_ID_SYSTEMS=PACS_MRN,
                    CARI_PACS_VIEWER_TOKEN_SECONDS="3600") as gateway:
                auth = {"Authorization": "Bearer " + cli(
                    gateway.env, "token", "--sub", "bench", "--roles", "clinician")}
                with httpx.Client(base_url=gateway.base_url, headers=auth, timeout=30) as client:
                    patient = client.post("/api/patients", json={
                        "identifiers": [{"system": PACS_MRN, "value": "BENCH-MRN-1"}],
                        "family": "Bench"}).json()["data"]["id"]
                    body = {"study_uid": study.study_uid, "patient_id": patient}

                    def access(c: httpx.Client) -> None:
                        assert c.post("/api/clinical/dicom/access", json=body).status_code == 200

                    access_times = _timed(client, count, access)
                    root = client.post("/api/clinical/dicom/access",
                                       json=body).json()["data"]["dicomweb_root"]
                with httpx.Client(timeout=30) as plain:
                    proxied = f"{root}/studies/{study.study_uid}/metadata"
                    direct = f"{orthanc.dicomweb}/studies/{study.study_uid}/metadata"
                    proxy_times = _timed(plain, count, lambda c: _ok(c.get(proxied)))
                    direct_times = _timed(plain, count, lambda c: _ok(c.get(direct)))
                rss = gateway.rss_mb()
        finally:
            orthanc.stop()
    figures = {"access": _figures(access_times), "metadata_proxy": _figures(proxy_times),
               "metadata_direct": _figures(direct_times), "server_rss_mb": rss,
               "instances": len(study.instances), "database": "sqlite",
               "load_average_before": load_before, "load_average_after": os.getloadavg(),
               "cpus": os.cpu_count()}
    for key, label in (("access", "access"), ("metadata_proxy", "metadata via proxy"),
                       ("metadata_direct", "metadata direct (Orthanc)")):
        f = figures[key]
        print(f"[{NAME}] {label}: {f['n']} sequential calls, p50 {f['p50_ms']:.1f} ms, "
              f"p99 {f['p99_ms']:.1f} ms, mean {f['mean_ms']:.1f} ms")
    print(f"[{NAME}] load average {load_before[0]:.2f} before, "
          f"{figures['load_average_after'][0]:.2f} after ({os.cpu_count()} CPUs)")
    print(f"[{NAME}] wrote {write_result(NAME, figures)}")
    return figures


def _ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


def rows(result: dict[str, Any]) -> list[list[str]]:
    return [[NAME, f"{label}, sqlite, HTTP, 1 at a time",
             f"p50 {result[key]['p50_ms']:.1f} ms, p99 {result[key]['p99_ms']:.1f} ms"]
            for key, label in (("access", "access (2 QIDO to Orthanc)"),
                               ("metadata_proxy", "study metadata via proxy"),
                               ("metadata_direct", "study metadata, Orthanc direct"))]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dicom_access")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    run(Options(keep=args.keep, extra={"requests": args.requests}))
